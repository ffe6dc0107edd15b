"""The worked examples of the spec, run end to end through `podium simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import EXAMPLES, podium, simulate_args

EXAMPLE_DIRS = sorted(p for p in EXAMPLES.iterdir() if (p / "plan.yaml").is_file())


def _period(example: Path) -> str:
    return (example / "PERIOD").read_text(encoding="utf-8").strip()


def test_given_the_examples_directory_when_listed_then_it_holds_the_three_worked_examples():
    assert [p.name for p in EXAMPLE_DIRS] == [
        "01-ae-marginal-tiers",
        "02-installers-per-unit-payable",
        "03-manager-rollup-formula",
    ]


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_given_worked_example_when_simulated_as_json_then_output_equals_expected(example: Path):
    proc = podium(*simulate_args(example / "plan.yaml", example / "data", _period(example)))

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    # Exactly one JSON document: raw_decode must consume everything but trailing whitespace.
    document, end = json.JSONDecoder().raw_decode(proc.stdout.lstrip())
    assert proc.stdout.lstrip()[end:].strip() == ""
    expected = json.loads((example / "expected.json").read_text(encoding="utf-8"))
    assert document == expected


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_given_worked_example_when_simulated_as_table_then_every_rep_id_is_shown(example: Path):
    proc = podium(
        *simulate_args(example / "plan.yaml", example / "data", _period(example), fmt="table")
    )

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    expected = json.loads((example / "expected.json").read_text(encoding="utf-8"))
    rep_ids = [r["rep_id"] for r in expected["reps"]] + [e["rep_id"] for e in expected["errors"]]
    assert rep_ids
    for rep_id in rep_ids:
        assert rep_id in proc.stdout
