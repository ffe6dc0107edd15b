"""Generated CSV files (reps, transactions, quotas, fx, assignments) through the readers that
`podium import` and `podium simulate` share: a typed error naming file, row and column, or
rows whose values are bounded; never another exception. Both commands split a file into
lines with ``csv_lines``: a U+2028 or U+0085 inside a cell is data, not a line break."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.datasets.csvfiles import (
    ASSIGNMENTS,
    FX,
    QUOTAS,
    REPS,
    TRANSACTIONS,
    csv_lines,
    read_assignments,
    read_directory_texts,
    read_fx,
    read_quota_records,
    read_rep_records,
    read_transaction_records,
)
from domain.engine.calculate import calculate
from domain.engine.plan import parse_plan_text
from domain.kit.errors import DataError, DomainError
from domain.kit.periods import parse_period

PLAN = parse_plan_text(
    """\
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
)

HOSTILE_CELLS = [
    "",
    " ",
    "ana",
    "ben",
    "t1",
    "40000",
    "40000.00",
    "-5",
    "0.1234567",
    "9" * 15,
    "9" * 40,
    "1e5",
    "1e999999",
    "NaN",
    "١٢",
    "１２",
    "12\u2028",
    "a\u2028b",
    "a\u0085b",
    "a\x0bb",
    "a\x1cb",
    "\x00",
    "4\x000",
    "2026-10",
    "2026-10\n",
    "0000",
    "0000-01",
    "2026-Q4",
    "٢٠٢٦-10",
    "2026-10-03",
    "0000-01-01",
    "9999-12-31",
    "2026-02-30",
    "20261003",
    "EUR",
    "EURO",
    "won",
    "ana:0.6;ben:0.4",
    "ana:0.5;ana:0.5",
    "ana:1e999999",
    str(2**63),
    str(2**63 - 1),
    '"',
    '""',
    "a,b",
    "x" * 500,
    "\ufeff",
    "\ud7ff",
]
CELLS = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(max_size=12))


def _cell(text: str) -> str:
    """A cell as a spreadsheet writes it: quoted when it holds a comma, quote or line break."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@st.composite
def csv_files(draw: Any, columns: tuple[str, ...]) -> str:
    header = list(columns)
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if draw(st.integers(0, 4)) == 0:
        header.append(draw(st.sampled_from(["version", "email", "region", "", "id", "\x00"])))
    if draw(st.integers(0, 6)) == 0:
        header = header[:-1]
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=len(header) - 1, max_size=len(header) + 1),
            max_size=6,
        )
    )
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = line_end.join(",".join(_cell(c) for c in row) for row in [header, *rows]) + line_end
    if draw(st.integers(0, 8)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _check_typed(exc: DomainError) -> None:
    assert exc.field, exc
    assert len(exc.message) < 300, exc.message[:300]


def _bounded(value: Decimal) -> None:
    assert value.is_finite()
    assert value.adjusted() < 14


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(csv_files(REPS))
def test_given_generated_reps_csv_when_read_then_reps_or_a_typed_error(text: str):
    try:
        records = read_rep_records(csv_lines(text))
    except DomainError as exc:
        _check_typed(exc)
        return
    for r in records:
        assert "\x00" not in r.rep.id + r.rep.name


@SETTINGS
@given(csv_files(TRANSACTIONS), st.booleans())
def test_given_generated_transactions_csv_when_read_then_rows_or_a_typed_error(
    text: str, version_column: bool
):
    try:
        records = read_transaction_records(
            csv_lines(text), {"ana", "ben"}, version_column=version_column
        )
    except DomainError as exc:
        _check_typed(exc)
        return
    for r in records:
        _bounded(r.transaction.amount)
        assert 0 <= r.version < 2**63


@SETTINGS
@given(csv_files(QUOTAS))
def test_given_generated_quotas_csv_when_read_then_quotas_or_a_typed_error(text: str):
    try:
        records = read_quota_records(csv_lines(text), {"ana", "ben"})
    except DomainError as exc:
        _check_typed(exc)
        return
    for q in records:
        _bounded(q.value)
        assert parse_period(q.period).id == q.period


@SETTINGS
@given(csv_files(FX), csv_files(ASSIGNMENTS))
def test_given_generated_fx_and_assignments_when_read_then_rows_or_a_typed_error(
    fx: str, assignments: str
):
    for read in (lambda: read_fx(csv_lines(fx)), lambda: read_assignments(csv_lines(assignments))):
        try:
            read()
        except DomainError as exc:
            _check_typed(exc)


@SETTINGS
@given(csv_files(TRANSACTIONS), csv_files(QUOTAS), csv_files(FX))
def test_given_generated_files_when_simulated_then_results_or_a_typed_error(
    transactions: str, quotas: str, fx: str
):
    """What `podium simulate` runs: the readers, then the engine; every engine failure is a
    rep's error in words, never a class repr."""
    texts = {
        "reps.csv": csv_lines("id,name,manager_id,hire_date,end_date\nana,Ana,,,\nben,Ben,ana,,\n"),
        "transactions.csv": csv_lines(transactions),
        "quotas.csv": csv_lines(quotas),
        "fx.csv": csv_lines(fx),
    }
    try:
        inputs = read_directory_texts(texts, "2026-10")
    except DomainError as exc:
        _check_typed(exc)
        return
    result = calculate(PLAN, parse_period("2026-10"), inputs)
    for error in result.errors:
        assert "<class" not in error.message, error.message


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c"])
def test_given_a_line_separator_inside_a_cell_when_split_then_kept_as_data(separator: str):
    # (in an attribute: a person's name refuses control characters and line separators)
    text = f"id,name,manager_id,hire_date,end_date,team\nana,Ana,,,,A{separator}na\nben,Ben,,,,B\n"

    reps = read_rep_records(csv_lines(text))

    assert [(r.row, r.rep.fields["team"]) for r in reps] == [(2, f"A{separator}na"), (3, "B")]


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("t9,ana,deal,4\x000,EUR,2026-10-01,won,,1", "amount", "NUL"),
        ("t9,ana,deal,1,EUR,2026-10-01,won,,9223372036854775808", "version", "0 to"),
        ("t9,ana,deal,1,EUR,2026-10-01,won,,١", "version", "not a whole number"),
        ("t9,ana,deal," + "9" * 40 + ",EUR,2026-10-01,won,,1", "amount", "too large"),
        ("t9,ana,deal,١٢,EUR,2026-10-01,won,,1", "amount", "is not a number"),
        ("t9,ana,deal,1,EUR,0000-01-01,won,,1", "date", "is not a date"),
    ],
)
def test_given_a_hostile_cell_when_transactions_read_then_data_error_naming_it(
    row: str, column: str, fragment: str
):
    text = "id,rep_id,type,amount,currency,date,state,splits,version\n" + row + "\n"

    with pytest.raises(DataError) as info:
        read_transaction_records(csv_lines(text), {"ana"}, version_column=True)

    assert (info.value.row, info.value.column) == (2, column)
    assert fragment in info.value.message


@pytest.mark.parametrize("period", ["0000", "0000-01", "٢٠٢٦-10", "2026-1O"])
def test_given_a_hostile_quota_period_when_read_then_data_error_naming_it(period: str):
    text = f"rep_id,measure,period,value\nana,bookings,{period},1\n"

    with pytest.raises(DataError) as info:
        read_quota_records(csv_lines(text), {"ana"})

    assert (info.value.row, info.value.column) == (2, "period")
