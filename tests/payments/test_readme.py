"""README's worked example of a payout file runs as printed and its file validates against the
XSD (xmlschema, and xmllint where installed: tests/xmllint.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.xmllint import xsd_accepts

ROOT = Path(__file__).resolve().parents[2]


def test_given_the_readme_sepa_example_when_run_then_it_writes_a_file_xmllint_accepts(
    tmp_path: Path,
):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Payout methods") :]
    script = section.split(".venv/bin/python - <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    ran = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == (
        "(Submitted(reference='B1-0001', provider_id='HELIOS-B1', state=None),)"
    )
    xsd = ROOT / "payments" / "methods" / "xsd" / "pain.001.001.09.xsd"
    xsd_accepts(xsd, tmp_path / "HELIOS-B1.xml")
