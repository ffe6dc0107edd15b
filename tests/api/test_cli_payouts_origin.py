"""`podium payouts origin --file`: a file a newcomer mistyped, a folder or a file that is not
JSON is one line naming the file and what is wrong with it, exit 2, never Python's own
exception text."""

from __future__ import annotations

from pathlib import Path

from tests.api.cli_runner import podium


async def test_given_a_missing_folder_or_broken_payer_file_then_one_line_naming_it(
    db: str, tmp_path: Path
):
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    (tmp_path / "latin1.json").write_bytes(b'{"name": "M\xfcller"}')
    cases = {
        tmp_path / "payer.jsn": "no such file",
        tmp_path: "cannot read",
        tmp_path / "broken.json": "not valid JSON",
        tmp_path / "latin1.json": "is not a UTF-8 text file",
    }

    for path, wrong in cases.items():
        ran = await podium(db, "payouts", "origin", "--tenant", "acme", "--method", "sepa_file",
                           "--file", path)  # fmt: skip

        line = ran.one_line_error(f"podium: --file: {path}: {wrong}")
        assert "Errno" not in line
