"""The simulator in-process: loading files, rendering JSON and tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from api.simulator import load_plan_file, render_json, render_table, simulate
from domain.kit.errors import DataError, PeriodError, PlanError
from tests.factories import EXAMPLES

AE = EXAMPLES / "01-ae-marginal-tiers"
MANAGERS = EXAMPLES / "03-manager-rollup-formula"


def test_given_example_when_simulated_in_process_then_result_equals_expected_json():
    result = simulate(AE / "plan.yaml", AE / "data", "2026-10")

    assert json.loads(render_json(result)) == json.loads((AE / "expected.json").read_text())


def test_given_explain_when_rendered_as_json_then_explanations_are_added():
    result = simulate(AE / "plan.yaml", AE / "data", "2026-10")

    document = json.loads(render_json(result, explain=True))

    ana = document["reps"][0]
    assert ana["explanation"]
    assert all(c["explanation"] for c in ana["components"])


@pytest.mark.parametrize("explain", [False, True])
def test_given_result_when_rendered_as_table_then_reps_totals_and_errors_appear(explain: bool):
    result = simulate(MANAGERS / "plan.yaml", MANAGERS / "data", "2026-Q4")
    console = Console(record=True, width=200)

    render_table(result, console, explain=explain)

    text = console.export_text()
    for rep_id in ("mia", "noa", "oli", "pia", "raf"):
        assert rep_id in text
    assert "7,700.00" in text
    assert "no quota for measure 'team_bookings' in 2026-Q4" in text


def test_given_plan_path_that_does_not_exist_when_loaded_then_plan_error_names_it(tmp_path: Path):
    with pytest.raises(PlanError) as info:
        load_plan_file(tmp_path / "nope.yaml")

    assert "nope.yaml" in str(info.value)


def test_given_bad_plan_key_when_loaded_from_file_then_error_names_file_and_key(tmp_path: Path):
    path = tmp_path / "plan.yaml"
    path.write_text((AE / "plan.yaml").read_text().replace("method:", "methd:"))

    with pytest.raises(PlanError) as info:
        load_plan_file(path)

    assert str(info.value).startswith(f"{path}: components[0].methd: ")


def test_given_wrong_period_kind_when_simulated_in_process_then_period_error():
    with pytest.raises(PeriodError):
        simulate(AE / "plan.yaml", AE / "data", "2026-Q4")


def test_given_data_path_that_is_a_file_when_simulated_then_data_error():
    with pytest.raises(DataError):
        simulate(AE / "plan.yaml", AE / "plan.yaml", "2026-10")


def test_given_a_locale_when_rendered_as_table_then_words_and_figures_are_in_it():
    # before: the headings, "measures", "of quota" and the figures stayed English
    # (7,700.00 and 102.6%) under German explanation lines
    result = simulate(MANAGERS / "plan.yaml", MANAGERS / "data", "2026-Q4")
    console = Console(record=True, width=200)

    render_table(result, console, explain=True, locale="de-DE")

    text = console.export_text()
    assert "7.700,00" in text
    assert "7,700.00" not in text
    assert "Kennzahlen" in text
    assert "measures" not in text
    assert "Nicht berechnet" in text
    assert "Grund" in text
    english = Console(record=True, width=200)
    render_table(result, english, explain=False)
    assert "Cap adj." in english.export_text()
    hindi = Console(record=True, width=200)
    render_table(simulate(AE / "plan.yaml", AE / "data", "2026-10"), hindi, locale="hi")
    assert "कुल" in hindi.export_text()  # Total
