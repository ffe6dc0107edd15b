"""`podium payouts ...` given what a newcomer mistypes: `origin --file` naming a missing file,
a folder or a file that is not JSON, a batch id that is not there, a reason too short: one line
naming the option and what is wrong, exit 2, never Python's own exception text."""

from __future__ import annotations

from pathlib import Path

from tests.api.cli_runner import podium
from tests.api.graphql import helpers as h


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


async def test_given_an_unknown_batch_or_a_short_reason_then_one_line_naming_the_option(db: str):
    await h.tenant("acme")
    nowhere = "00000000-0000-0000-0000-000000000000"
    cases = [
        (("execute", "--batch", "PB-typo"), "--batch: no payout batch PB-typo"),
        (("confirm", "--batch", nowhere), f"--batch: no payout batch {nowhere}"),
        (("return", "--batch", nowhere, "--reference", "PB1-2", "--reason", "AC04 closed"),
         f"--batch: no payout batch {nowhere}"),
        (("return", "--batch", nowhere, "--reference", "PB1-2", "--reason", "x"), "--reason: "),
    ]  # fmt: skip

    for args, named in cases:
        ran = await podium(db, "payouts", args[0], "--tenant", "acme", *args[1:])

        ran.one_line_error(f"podium: {named}")


async def test_given_a_bad_provider_setting_then_one_line_naming_the_option_not_the_field(
    db: str,
):
    await h.tenant("acme")
    key = "TEST_giftcards_key_0000000001"
    cards = ("giftcards", "--api-key", key, "--api-base", "http://127.0.0.1:9/api/v2",
             "--product", "OKMHM2X2OHYV")  # fmt: skip
    cases = [
        ((*cards, "--webhook-secret", "short"), "--webhook-secret: at most two webhook"),
        ((*cards, "--webhook-secret", "a" * 20, "--webhook-secret", "b" * 20,
          "--webhook-secret", "c" * 20), "--webhook-secret: at most two"),
        (("giftcards", "--api-key", "k", "--api-base", "http://127.0.0.1:9/api/v2",
          "--product", "OKMHM2X2OHYV"), "--api-key: an API key"),
        ((*cards[:-1], "no such product!"), "--product: "),
        ((*cards, "--funding-source", "a b"), "--funding-source: a funding source id"),
        (("stripe", "--api-key", "sk_test_" + "0" * 24, "--webhook-secret", "nope"),
         "--webhook-secret: webhook signing secrets"),
    ]  # fmt: skip

    for args, named in cases:
        ran = await podium(db, "payouts", args[0], "--tenant", "acme", *args[1:])

        ran.one_line_error(f"podium: {named}")
