"""SEPA files checked against their XSD by a validator other than the writer's (lxml, which
checks them as they are written): xmlschema always, and xmllint, libxml2's own program, where
it is installed. CI installs it (`.ci/run`) and sets PODIUM_TEST_REQUIRE_XMLLINT, so there a
missing xmllint fails instead of being passed over; a fresh laptop's `make test` still checks
every file with xmlschema."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import xmlschema


def xsd_accepts(xsd: Path, path: Path) -> None:
    """Assert that ``path`` validates against ``xsd``: xmlschema, then xmllint when present."""
    xmlschema.XMLSchema(xsd).validate(path.read_text(encoding="utf-8"))
    if shutil.which("xmllint") is None:
        assert not os.environ.get("PODIUM_TEST_REQUIRE_XMLLINT"), "xmllint is not installed"
        return
    checked = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", str(xsd), str(path)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
