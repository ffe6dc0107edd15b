"""`podium simulate` as a user runs it: bad input exits 2 with one line on stderr, never a
traceback; good input prints exactly one JSON document."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.factories import podium, simulate_args

PLAN = """\
id: ae
currency: EUR
period: month
measures:
  - id: bookings
    filter: "state == 'won'"
components:
  - id: commission
    type: tiered
    measure: bookings
    tiers:
      - {from: 0, rate: 0.02}
      - {from: 0.5, rate: 0.05}
"""

FILES = {
    "reps.csv": "id,name,manager_id,hire_date,end_date\nana,Ana,,,\nben,Ben,ana,,\n",
    "transactions.csv": (
        "id,rep_id,type,amount,currency,date,state,splits\n"
        "t1,ana,deal,40000,EUR,2026-10-03,won,\n"
        "t2,ben,deal,10000,EUR,2026-10-04,won,\n"
    ),
    "quotas.csv": "rep_id,measure,period,value\nana,bookings,2026-10,100000\n",
}

TX_HEADER = "id,rep_id,type,amount,currency,date,state,splits\n"


def write_case(
    root: Path, *, plan: str = PLAN, files: dict[str, str | None] | None = None
) -> tuple[Path, Path]:
    """A plan file and a data directory; ``files`` overrides (None removes a file)."""
    plan_path = root / "plan.yaml"
    plan_path.write_text(textwrap.dedent(plan), encoding="utf-8")
    data = root / "data"
    data.mkdir()
    for name, text in {**FILES, **(files or {})}.items():
        if text is not None:
            (data / name).write_text(text, encoding="utf-8")
    return plan_path, data


def assert_one_line_failure(proc, *fragments: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.endswith("\n")
    stderr_lines = proc.stderr.splitlines()
    assert len(stderr_lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in stderr_lines[0]
    return stderr_lines[0]


def simulate(tmp_path: Path, period: str = "2026-10", fmt: str = "json", **case):
    plan, data = write_case(tmp_path, **case)
    return podium(*simulate_args(plan, data, period, fmt))


# --- good input ----------------------------------------------------------------------------


def test_given_valid_plan_and_data_when_simulated_as_json_then_one_document_on_stdout(
    tmp_path: Path,
):
    proc = simulate(tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    document = json.loads(proc.stdout)
    assert document["plan"] == "ae"
    assert [r["rep_id"] for r in document["reps"]] == ["ana"]
    assert document["reps"][0]["total"] == "800.00"
    assert document["errors"] == [
        {"rep_id": "ben", "message": "no quota for measure 'bookings' in 2026-10"}
    ]


def test_given_valid_plan_and_data_when_simulated_as_table_then_reps_and_errors_shown(
    tmp_path: Path,
):
    proc = simulate(tmp_path, fmt="table")

    assert proc.returncode == 0, proc.stderr
    assert "ana" in proc.stdout
    assert "ben" in proc.stdout
    assert "800.00" in proc.stdout


def test_given_a_locale_when_simulated_with_explain_then_the_words_are_in_that_language(
    tmp_path: Path,
):
    plan, data = write_case(tmp_path)
    args = [*simulate_args(plan, data, "2026-10"), "--explain"]

    english = json.loads(podium(*args).stdout)
    german = json.loads(podium(*args, "--locale", "de-DE").stdout)

    assert english["reps"][0]["total"] == german["reps"][0]["total"] == "800.00"
    assert english["reps"][0]["explanation"] != german["reps"][0]["explanation"]
    assert "800,00" in json.dumps(german["reps"][0], ensure_ascii=False)


def test_given_an_unknown_locale_when_simulated_then_exit_2_naming_the_option(tmp_path: Path):
    plan, data = write_case(tmp_path)

    proc = podium(*simulate_args(plan, data, "2026-10"), "--locale", "zz-!!")

    assert_one_line_failure(proc, "--locale")


def test_given_json_plan_document_when_simulated_then_accepted(tmp_path: Path):
    plan = json.dumps(
        {
            "id": "ae",
            "currency": "EUR",
            "period": "month",
            "measures": [{"id": "bookings"}],
            "components": [{"id": "c", "type": "rate", "measure": "bookings", "rate": 0.01}],
        }
    )

    proc = simulate(tmp_path, plan=plan)

    assert proc.returncode == 0, proc.stderr
    assert [r["total"] for r in json.loads(proc.stdout)["reps"]] == ["400.00", "100.00"]


def test_given_optional_files_when_simulated_then_assignments_and_fx_are_used(tmp_path: Path):
    proc = simulate(
        tmp_path,
        files={
            "transactions.csv": TX_HEADER + "t1,ana,deal,40000,GBP,2026-10-03,won,\n",
            "fx.csv": "date,currency,rate\n2026-10-01,GBP,1.25\n",
            "assignments.csv": "rep_id,plan_id,from,to\nana,ae,2026-10-11,\n",
        },
    )

    assert proc.returncode == 0, proc.stderr
    (ana,) = json.loads(proc.stdout)["reps"]
    assert ana["measures"][0] == {
        "id": "bookings",
        "total": "50000.00",
        "quota": "67741.93548387096774193548387",
        "attainment": "0.7380952380952380952380952381",
    }


# --- bad CSV -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "fragments"),
    [
        (
            {"transactions.csv": "id,rep_id,type,currency,date,state,splits\n"},
            ["transactions.csv", "row 1", "amount"],
        ),
        (
            {"reps.csv": "id,name,manager\nana,Ana,\n"},
            ["reps.csv", "row 1", "manager_id"],
        ),
        (
            {"transactions.csv": TX_HEADER + "t1,ana,deal,12O0,EUR,2026-10-03,won,\n"},
            ["transactions.csv row 2 column amount", "'12O0' is not a number"],
        ),
        (
            {"quotas.csv": "rep_id,measure,period,value\nana,bookings,2026-10,1 000\n"},
            ["quotas.csv row 2 column value"],
        ),
        (
            {
                "transactions.csv": TX_HEADER + "t1,ana,deal,1,EUR,2026-10-03,won,\n"
                "t2,ana,deal,1,EUR,31.10.2026,won,\n"
            },
            ["transactions.csv row 3 column date"],
        ),
        (
            {"reps.csv": "id,name,manager_id,hire_date,end_date\nana,Ana,,2026-02-30,\n"},
            ["reps.csv row 2 column hire_date"],
        ),
        (
            {"transactions.csv": TX_HEADER + "t1,ana,deal,1,EUR,2026-10-03,won,ana:0.7;ben:0.2\n"},
            ["transactions.csv row 2 column splits", "0.9"],
        ),
        (
            {"transactions.csv": TX_HEADER + "t1,zed,deal,1,EUR,2026-10-03,won,\n"},
            ["transactions.csv row 2 column rep_id", "zed"],
        ),
        (
            {"quotas.csv": "rep_id,measure,period,value\nzed,bookings,2026-10,1\n"},
            ["quotas.csv row 2 column rep_id", "zed"],
        ),
        (
            {
                "transactions.csv": TX_HEADER + "t1,ana,deal,1,EUR,2026-10-03,won,\n"
                "t2,ana,deal,1,EUR,2026-10-03,won,\nt1,ben,deal,1,EUR,2026-10-03,won,\n"
            },
            ["transactions.csv row 4 column id", "t1"],
        ),
        (
            {"reps.csv": "id,name,manager_id,hire_date,end_date\nana,Ana,ben,,\nben,Ben,ana,,\n"},
            ["reps.csv row", "column manager_id", "cycle"],
        ),
        ({"quotas.csv": None}, ["quotas.csv", "missing"]),
        ({"reps.csv": None}, ["reps.csv", "missing"]),
        (
            {"fx.csv": "date,currency,rate\n2026-10-01,GBP,zero\n"},
            ["fx.csv row 2 column rate"],
        ),
        (
            {"assignments.csv": "rep_id,plan_id,from,to\nana,ae,2026-10-20,2026-10-01\n"},
            ["assignments.csv row 2 column to"],
        ),
    ],
    ids=[
        "wrong-header",
        "wrong-reps-header",
        "unparsable-amount",
        "unparsable-quota",
        "unparsable-date",
        "impossible-date",
        "shares-not-one",
        "unknown-rep",
        "unknown-rep-in-quotas",
        "duplicate-transaction-id",
        "manager-cycle",
        "missing-quotas-file",
        "missing-reps-file",
        "bad-fx-rate",
        "assignment-ends-before-start",
    ],
)
def test_given_bad_csv_when_simulated_then_exit_2_with_one_line_naming_file_row_column(
    tmp_path: Path, files: dict[str, str | None], fragments: list[str]
):
    proc = simulate(tmp_path, files=files)

    assert_one_line_failure(proc, *fragments)


def test_given_csv_that_is_not_utf8_when_simulated_then_exit_2_without_traceback(tmp_path: Path):
    plan, data = write_case(tmp_path)
    (data / "reps.csv").write_bytes(
        "id,name,manager_id,hire_date,end_date\nana,Zoë,,,\n".encode("latin-1")
    )

    proc = podium(*simulate_args(plan, data, "2026-10"))

    assert_one_line_failure(proc, "UTF-8")


def test_given_data_directory_that_does_not_exist_when_simulated_then_exit_2(tmp_path: Path):
    plan, _ = write_case(tmp_path)

    proc = podium(*simulate_args(plan, tmp_path / "nowhere", "2026-10"))

    assert_one_line_failure(proc, "nowhere")


# --- bad plan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "fragments"),
    [
        (PLAN.replace("    tiers:", "    tier:"), ["components[0].tier", "unknown key"]),
        (PLAN.replace("currency: EUR", "currency: EURO"), ["currency"]),
        (PLAN.replace("period: month", "period: week"), ["period", "week"]),
        (PLAN.replace("{from: 0, rate", "{from: 0.1, rate"), ["components[0].tiers[0].from"]),
        (PLAN.replace("measure: bookings", "measure: revenue"), ["components[0].measure"]),
        (
            PLAN.replace("state == 'won'", "state.name == 'won'"),
            ["measures[0].filter", "attribute access", "column 1"],
        ),
        (PLAN.replace("state == 'won'", "state == 'won"), ["measures[0].filter", "syntax"]),
        (PLAN + "currency: USD\n", ["duplicate key 'currency'"]),
        ("id: [unclosed\n", ["invalid YAML"]),
        ('{"id": "ae",}', ["invalid JSON"]),
    ],
    ids=[
        "unknown-key",
        "bad-currency",
        "bad-period",
        "tiers-not-from-zero",
        "unknown-measure",
        "attribute-access",
        "expression-syntax",
        "duplicate-key",
        "bad-yaml",
        "bad-json",
    ],
)
def test_given_bad_plan_when_simulated_then_exit_2_with_one_line_naming_the_key(
    tmp_path: Path, plan: str, fragments: list[str]
):
    proc = simulate(tmp_path, plan=plan)

    line = assert_one_line_failure(proc, *fragments)
    assert "plan.yaml" in line


def test_given_missing_plan_file_when_simulated_then_exit_2(tmp_path: Path):
    _, data = write_case(tmp_path)

    proc = podium(*simulate_args(tmp_path / "absent.yaml", data, "2026-10"))

    assert_one_line_failure(proc, "absent.yaml")


def test_given_valid_but_long_plan_expression_when_simulated_then_no_traceback(tmp_path: Path):
    long_sum = " + ".join(["amount"] * 250)
    plan = PLAN.replace("    filter: \"state == 'won'\"", f'    value: "({long_sum}) / 250"')

    proc = simulate(tmp_path, plan=plan)

    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 2)
    if proc.returncode == 0:
        assert json.loads(proc.stdout)["reps"][0]["measures"][0]["total"] == "40000"


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["2026-Q4", "2026"])
def test_given_period_of_another_kind_than_the_plan_when_simulated_then_exit_2(
    tmp_path: Path, period: str
):
    proc = simulate(tmp_path, period=period)

    assert_one_line_failure(proc, period, "month")


@pytest.mark.parametrize("period", ["2026-13", "Q4-2026", "october"])
def test_given_malformed_period_when_simulated_then_exit_2(tmp_path: Path, period: str):
    proc = simulate(tmp_path, period=period)

    assert_one_line_failure(proc, "period", period)


def test_given_quarter_plan_when_simulated_for_a_quarter_then_exit_0(tmp_path: Path):
    proc = simulate(
        tmp_path,
        period="2026-Q4",
        plan=PLAN.replace("period: month", "period: quarter"),
        files={"quotas.csv": "rep_id,measure,period,value\nana,bookings,2026-Q4,300000\n"},
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["period"] == "2026-Q4"


# --- hostile input: one line on stderr, exit status 2 ------------------------------------------

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    )
    + "id: [*f]\n"
)
HOSTILE_CASES = {
    "list as key": ({"plan": "[a, b]: 1\n" + PLAN}, "a key must be a name, not a list"),
    "mapping as key": ({"plan": "? {a: 1}\n: 1\n" + PLAN}, "not a mapping"),
    "50,000-deep yaml": ({"plan": "x: " + "[" * 50_000 + "]" * 50_000}, "nest"),
    "50,000-deep json": ({"plan": '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"}, "nested deeper"),
    "alias bomb": ({"plan": ALIAS_BOMB}, "aliases"),
    "rate 1e999999": ({"plan": PLAN.replace("rate: 0.05", "rate: 1e999999")}, "too large"),
    "arabic-indic rate": ({"plan": PLAN.replace("rate: 0.05", "rate: '١٢'")}, "not a number"),
    "NUL in a csv": (
        {"files": {"transactions.csv": TX_HEADER + "t1,ana,deal,4\x000,EUR,2026-10-03,won,\n"}},
        "transactions.csv row 2 column amount: contains a NUL character",
    ),
    "40-digit amount": (
        {"files": {"transactions.csv": TX_HEADER + f"t1,ana,deal,{'9' * 40},EUR,2026-10-03,,\n"}},
        "column amount",
    ),
    "year 0 quota": (
        {"files": {"quotas.csv": "rep_id,measure,period,value\nana,bookings,0000-01,1\n"}},
        "quotas.csv row 2 column period: year 0",
    ),
    "not utf-8": (
        {"files": {"reps.csv": None}, "raw": {"reps.csv": b"id,name\n\xff\xfe,\n"}},
        "reps.csv: is not UTF-8",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_CASES))
def test_given_hostile_plan_or_data_when_simulated_then_one_line_and_exit_2(
    tmp_path: Path, case: str
):
    from typer.testing import CliRunner

    from api.cli import app

    given, fragment = HOSTILE_CASES[case]
    raw = given.pop("raw", {}) if isinstance(given, dict) else {}
    plan, data = write_case(tmp_path, **dict(given))
    for name, content in raw.items():
        (data / name).write_bytes(content)

    ran = CliRunner().invoke(app, [str(a) for a in simulate_args(plan, data, "2026-10")])

    assert ran.exit_code == 2, (ran.stdout, ran.stderr, ran.exception)
    assert ran.stdout == ""
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert fragment in lines[0]
    assert len(lines[0]) < 400


@pytest.mark.parametrize("period", ["0000", "0000-01", "2026-10\n", "٢٠٢٦-10"])
def test_given_a_hostile_period_when_simulated_then_one_line_and_exit_2(
    tmp_path: Path, period: str
):
    from typer.testing import CliRunner

    from api.cli import app

    plan, data = write_case(tmp_path)

    ran = CliRunner().invoke(app, [str(a) for a in simulate_args(plan, data, period)])

    assert ran.exit_code == 2, (ran.stdout, ran.stderr, ran.exception)
    assert ran.stderr.startswith("podium: period: ")
    assert len(ran.stderr.splitlines()) == 1


def test_given_a_50000_deep_plan_when_simulated_in_a_fresh_process_then_one_line_exit_2(
    tmp_path: Path,
):
    proc = simulate(tmp_path, plan="x: " + "[" * 50_000 + "]" * 50_000)

    assert_one_line_failure(proc, "nest")
