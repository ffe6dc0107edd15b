"""The CSV files of PLAN_SPEC section 7, parsed strictly: every error names file, row, column.

Row numbers count the header as row 1, as a spreadsheet shows them. Shared by the simulator
and `podium import`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from domain.engine.inputs import (
    ONE,
    Assignment,
    FxTable,
    Inputs,
    Rep,
    Transaction,
    shares_add_up,
)
from domain.kit.errors import DataError, InvalidInput, quoted
from domain.kit.money import is_currency, not_a_currency
from domain.kit.numbers import FIELD_DIGITS, decimal_or_none, parse_decimal, parse_whole_number
from domain.kit.periods import parse_date, parse_period
from domain.kit.text import name_problem

REPS = ("id", "name", "manager_id", "hire_date", "end_date")
TRANSACTIONS = ("id", "rep_id", "type", "amount", "currency", "date", "state", "splits")
QUOTAS = ("rep_id", "measure", "period", "value")
ASSIGNMENTS = ("rep_id", "plan_id", "from", "to")
FX = ("date", "currency", "rate")
# `podium import fx`: a tenant's rates, each into the currency its plans pay in
FX_IMPORT = ("date", "currency", "quote_currency", "rate")
# what fx_rates.rate holds: NUMERIC(20, 10)
MAX_RATE_INTEGER_DIGITS = 10
# Columns whose names would shadow what the engine derives.
_RESERVED_EXTRA = {"amount_original"}


# digits after the point a CSV number may carry: fx rates and shares have more than money
MAX_CSV_DECIMALS = 10


def csv_lines(text: str) -> list[str]:
    """The lines of a CSV text as the csv module needs them: split at \\n, \\r and \\r\\n
    only. (``str.splitlines`` also splits at U+2028, U+0085 and other characters a cell may
    hold as data.) Every reader of CSV files (`podium simulate`, `podium import`) uses it."""
    return io.StringIO(text, newline="").readlines()


def parse_number(text: str) -> Decimal | None:
    """A plain decimal ('1200', '-3.5') in ASCII digits within bounds; no exponents, NaN or
    thousands separators. None for anything else."""
    return decimal_or_none(text, decimals=MAX_CSV_DECIMALS)


@dataclass
class _Row:
    file: str
    line: int
    cells: dict[str, str]

    def fail(self, column: str | None, message: str) -> DataError:
        return DataError(message, file=self.file, row=self.line, column=column)

    def text(self, column: str, *, required: bool = True) -> str | None:
        value = self.cells.get(column, "").strip()
        if not value:
            if required:
                raise self.fail(column, "is required")
            return None
        return value

    def required(self, column: str) -> str:
        value = self.text(column)
        assert value is not None
        return value

    def number(
        self, column: str, *, positive: bool = False, minimum: Decimal | None = None
    ) -> Decimal:
        raw = self.required(column)
        try:
            value = parse_decimal(raw, field=column, decimals=MAX_CSV_DECIMALS)
        except InvalidInput as exc:
            raise self.fail(column, exc.message) from None
        if positive and value <= 0:
            raise self.fail(column, f"must be positive, got {raw}")
        if minimum is not None and value < minimum:
            raise self.fail(column, f"must be at least {minimum}, got {raw}")
        return value

    def date(self, column: str, *, required: bool = True) -> date | None:
        raw = self.text(column, required=required)
        if raw is None:
            return None
        try:
            return parse_date(raw, field=column)
        except InvalidInput as exc:
            raise self.fail(column, exc.message) from None


def _rows(
    lines: Iterable[str],
    file: str,
    required: tuple[str, ...],
    *,
    extra_columns: bool,
    optional: tuple[str, ...] = (),
) -> tuple[list[str], Iterator[_Row]]:
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError("is empty (expected a header row)", file=file, row=1) from None
    except csv.Error as exc:
        raise DataError(f"unreadable CSV: {exc}", file=file, row=1) from None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if any("\x00" in h for h in header):
        raise DataError("contains a NUL character", file=file, row=1)
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} in header {','.join(header)}", file=file, row=1
        )
    seen: set[str] = set()
    for name in header:
        if not name:
            raise DataError("empty column name in header", file=file, row=1)
        if name in seen:
            raise DataError(f"duplicate column {quoted(name)} in header", file=file, row=1)
        seen.add(name)
        if not extra_columns and name not in required and name not in optional:
            expected = ",".join(required) + "".join(f" [,{c}]" for c in optional)
            raise DataError(
                f"unknown column {quoted(name)} (expected {expected})", file=file, row=1
            )

    def rows() -> Iterator[_Row]:
        number = 1
        try:
            for cells in reader:
                number += 1
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise DataError(
                        f"has {len(cells)} cells, the header has {len(header)}",
                        file=file,
                        row=number,
                    )
                for name, cell in zip(header, cells, strict=True):
                    if "\x00" in cell:
                        raise DataError(
                            "contains a NUL character", file=file, row=number, column=name
                        )
                yield _Row(file, number, dict(zip(header, cells, strict=True)))
        except csv.Error as exc:
            raise DataError(f"unreadable CSV: {exc}", file=file, row=number + 1) from None

    return header, rows()


def read_reps(lines: Iterable[str], file: str = "reps.csv") -> list[Rep]:
    return [r.rep for r in read_rep_records(lines, file)]


@dataclass(frozen=True, slots=True)
class RepRecord:
    row: int  # the line in the file (header = 1)
    rep: Rep


def read_rep_records(
    lines: Iterable[str], file: str = "reps.csv", known_managers: Mapping[str, str | None] = {}
) -> list[RepRecord]:
    """Reps with their row numbers. ``known_managers`` (external id -> their manager's) are
    people who exist already (`podium import`): a manager may be one of them, and a cycle
    through them is rejected too."""
    header, rows = _rows(lines, file, REPS, extra_columns=True)
    extras = [h for h in header if h not in REPS]
    reps: dict[str, Rep] = {}
    records: list[RepRecord] = []
    managers: dict[str, tuple[str, int]] = {}
    for row in rows:
        rep_id = row.required("id")
        if rep_id in reps:
            raise row.fail("id", f"duplicate rep id {quoted(rep_id)}")
        hire, end = row.date("hire_date", required=False), row.date("end_date", required=False)
        if hire and end and end < hire:
            raise row.fail("end_date", f"{end} is before hire_date {hire}")
        manager = row.text("manager_id", required=False)
        if manager == rep_id:
            raise row.fail("manager_id", "a rep cannot be their own manager")
        name = row.text("name", required=False) or ""
        if problem := name_problem(name):
            raise row.fail("name", problem)
        if manager:
            managers[rep_id] = (manager, row.line)
        reps[rep_id] = Rep(
            rep_id,
            name,
            manager,
            hire,
            end,
            {h: _cell_value(row.cells[h]) for h in extras},
        )
        records.append(RepRecord(row.line, reps[rep_id]))
    for manager, number in managers.values():
        if manager not in reps and manager not in known_managers:
            raise DataError(
                f"unknown manager {quoted(manager)}", file=file, row=number, column="manager_id"
            )
    chains = {k: v for k, v in known_managers.items() if k not in reps}
    chains.update({r.id: r.manager_id for r in reps.values()})
    _reject_cycles(chains, managers, file)
    return records


def _reject_cycles(
    chains: Mapping[str, str | None], managers: Mapping[str, tuple[str, int]], file: str
) -> None:
    """``chains`` maps every rep to their manager; a cycle is reported at a row of the file."""
    done: set[str] = set()
    for start in chains:
        path: list[str] = []
        current: str | None = start
        while current is not None and current not in done:
            if current in path:
                cycle = path[path.index(current) :]
                in_file = next((r for r in cycle if r in managers), current)
                raise DataError(
                    f"manager cycle {' -> '.join([*cycle, current])}",
                    file=file,
                    row=managers[in_file][1] if in_file in managers else None,
                    column="manager_id",
                )
            path.append(current)
            current = chains.get(current)
        done.update(path)


def _cell_value(text: str) -> Any:
    value = text.strip()
    if not value:
        return None
    number = decimal_or_none(value, integer_digits=FIELD_DIGITS, decimals=FIELD_DIGITS)
    return number if number is not None else value


def read_transactions(
    lines: Iterable[str], rep_ids: set[str] | None = None, file: str = "transactions.csv"
) -> list[Transaction]:
    return [r.transaction for r in read_transaction_records(lines, rep_ids, file)]


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    row: int
    transaction: Transaction
    version: int  # the CRM's record version (`version` column of `podium import`), else 0


def read_transaction_records(
    lines: Iterable[str],
    rep_ids: set[str] | None = None,
    file: str = "transactions.csv",
    *,
    version_column: bool = False,
) -> list[TransactionRecord]:
    """With ``version_column``, a `version` column is the record's version (a whole number),
    not a field."""
    header, rows = _rows(lines, file, TRANSACTIONS, extra_columns=True)
    has_version = version_column and "version" in header
    extras = [h for h in header if h not in TRANSACTIONS and not (has_version and h == "version")]
    for name in extras:
        if name in _RESERVED_EXTRA:
            raise DataError(
                f"column {quoted(name)} is derived by Podium and cannot be given", file=file, row=1
            )
    out: list[TransactionRecord] = []
    seen: set[str] = set()
    # (currency, type, state, the extra cells' text) -> the kind of the rows alike, shared as
    # the close's reader shares it (`Transaction.kind`): one dict per row was most of a large
    # file's memory after its amounts, and the engine reads a shared one faster
    kinds: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        tx_id = row.required("id")
        if tx_id in seen:
            raise row.fail("id", f"duplicate transaction id {quoted(tx_id)}")
        seen.add(tx_id)
        rep_id = row.required("rep_id")
        if rep_ids is not None and rep_id not in rep_ids:
            raise row.fail("rep_id", f"unknown rep {quoted(rep_id)}")
        amount = row.number("amount")
        currency = row.required("currency")
        if not is_currency(currency):
            raise row.fail("currency", not_a_currency(currency))
        day = row.date("date")
        assert day is not None
        splits = parse_splits(
            row.text("splits", required=False), rep_ids, partial(row.fail, "splits")
        )
        version = 0
        raw_version = row.text("version", required=False) if has_version else None
        if raw_version is not None:
            try:
                version = parse_whole_number(raw_version, field="version")
            except InvalidInput as exc:
                raise row.fail("version", exc.message) from None
        type_, state = row.text("type", required=False), row.text("state", required=False)
        cells = tuple(row.cells[h] for h in extras)
        kind = kinds.get((currency, type_, state, cells))
        if kind is None:
            extra = {h: _cell_value(cell) for h, cell in zip(extras, cells, strict=True)}
            kind = Transaction.kind_of(currency, type_, state, extra)
            kinds[(currency, type_, state, cells)] = kind
        transaction = Transaction.build(
            id=tx_id,
            rep_id=rep_id,
            amount=amount,
            currency=currency,
            date=day,
            splits=splits,
            kind=kind,
        )
        out.append(TransactionRecord(row.line, transaction, version))
    return out


def parse_splits(
    text: str | None, rep_ids: set[str] | None, fail: Any
) -> list[tuple[str, Decimal]] | None:
    """``rep_a:0.6;rep_b:0.4`` -> [(rep_a, 0.6), (rep_b, 0.4)]; shares must add up to 1."""
    if not text:
        return None
    splits: list[tuple[str, Decimal]] = []
    for part in text.split(";"):
        rep, sep, share_text = part.strip().partition(":")
        rep, share_text = rep.strip(), share_text.strip()
        share = parse_number(share_text) if sep else None
        if not rep or share is None:
            raise fail(f"{quoted(part.strip())} is not rep_id:share")
        if share <= 0 or share > ONE:
            raise fail(
                f"share of {quoted(rep)} must be above 0 and at most 1, got {quoted(share_text)}"
            )
        if rep_ids is not None and rep not in rep_ids:
            raise fail(f"unknown rep {quoted(rep)}")
        if any(r == rep for r, _ in splits):
            raise fail(f"rep {quoted(rep)} appears twice")
        splits.append((rep, share))
    if not shares_add_up(s for _, s in splits):
        total = sum((s for _, s in splits), Decimal(0))
        raise fail(f"shares add up to {total}, not 1")
    return splits


def read_quotas(
    lines: Iterable[str], period_id: str, rep_ids: set[str] | None = None, file: str = "quotas.csv"
) -> dict[tuple[str, str], Decimal]:
    """Quotas of ``period_id`` keyed by (rep_id, measure); rows of other periods are checked
    and skipped."""
    return {
        (q.rep_id, q.measure): q.value
        for q in read_quota_records(lines, rep_ids, file)
        if q.period == period_id
    }


@dataclass(frozen=True, slots=True)
class QuotaRecord:
    row: int
    rep_id: str
    measure: str
    period: str
    value: Decimal


def read_quota_records(
    lines: Iterable[str], rep_ids: set[str] | None = None, file: str = "quotas.csv"
) -> list[QuotaRecord]:
    """Every quota row of every period."""
    _, rows = _rows(lines, file, QUOTAS, extra_columns=False)
    out: list[QuotaRecord] = []
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        rep_id, measure = row.required("rep_id"), row.required("measure")
        if rep_ids is not None and rep_id not in rep_ids:
            raise row.fail("rep_id", f"unknown rep {quoted(rep_id)}")
        period = row.required("period")
        try:
            parse_period(period)
        except InvalidInput as exc:
            raise row.fail("period", exc.message) from None
        value = row.number("value", minimum=Decimal(0))
        key = (rep_id, measure, period)
        if key in seen:
            raise row.fail(
                "rep_id", f"second quota for {quoted(rep_id)}, {quoted(measure)}, {period}"
            )
        seen.add(key)
        out.append(QuotaRecord(row.line, rep_id, measure, period, value))
    return out


def read_fx(lines: Iterable[str], file: str = "fx.csv") -> FxTable:
    _, rows = _rows(lines, file, FX, extra_columns=False)
    rates: list[tuple[date, str, Decimal]] = []
    seen: set[tuple[date, str]] = set()
    for row in rows:
        day = row.date("date")
        assert day is not None
        currency = row.required("currency")
        if not is_currency(currency):
            raise row.fail("currency", not_a_currency(currency))
        if (day, currency) in seen:
            raise row.fail("date", f"second rate for {currency} on {day}")
        seen.add((day, currency))
        rates.append((day, currency, row.number("rate", positive=True)))
    return FxTable(rates)


@dataclass(frozen=True, slots=True)
class FxRecord:
    row: int
    date: date
    currency: str
    quote_currency: str
    rate: Decimal


def read_fx_records(
    lines: Iterable[str], file: str = "fx.csv", default_quote: str | None = None
) -> list[FxRecord]:
    """`podium import fx`'s rows: ``rate`` units of ``quote_currency`` (a plan's currency)
    buy one unit of ``currency`` from ``date`` until the pair's next rate. Without a
    ``quote_currency`` column (the simulator's ``fx.csv``), every rate is into
    ``default_quote`` (the tenant's currency); with no default, the column is required."""
    optional = () if default_quote is None else ("quote_currency",)
    required = FX_IMPORT if default_quote is None else FX
    header, rows = _rows(lines, file, required, extra_columns=False, optional=optional)
    quote_column = "quote_currency" in header
    out: list[FxRecord] = []
    seen: set[tuple[date, str, str]] = set()
    for row in rows:
        day = row.date("date")
        assert day is not None
        pair = []
        for column in ("currency", "quote_currency"):
            if column == "quote_currency" and not quote_column:
                assert default_quote is not None
                pair.append(default_quote)
                continue
            code = row.required(column)
            if not is_currency(code):
                raise row.fail(column, not_a_currency(code))
            pair.append(code)
        currency, quote = pair
        if currency == quote and quote_column:
            raise row.fail("quote_currency", f"is {currency} too: a rate converts another currency")
        if currency == quote:
            raise row.fail("currency", f"is {quote}, the currency the rates convert into")
        if (day, currency, quote) in seen:
            raise row.fail("date", f"second rate for {currency} into {quote} on {day}")
        seen.add((day, currency, quote))
        rate = row.number("rate", positive=True)
        if rate.adjusted() >= MAX_RATE_INTEGER_DIGITS:
            raise row.fail(
                "rate", f"has more than {MAX_RATE_INTEGER_DIGITS} digits before the point"
            )
        out.append(FxRecord(row.line, day, currency, quote, rate))
    return out


def read_assignments(
    lines: Iterable[str], rep_ids: set[str] | None = None, file: str = "assignments.csv"
) -> list[Assignment]:
    _, rows = _rows(lines, file, ASSIGNMENTS, extra_columns=False)
    out: list[Assignment] = []
    for row in rows:
        rep_id = row.required("rep_id")
        if rep_ids is not None and rep_id not in rep_ids:
            raise row.fail("rep_id", f"unknown rep {quoted(rep_id)}")
        start, end = row.date("from", required=False), row.date("to", required=False)
        if start and end and end < start:
            raise row.fail("to", f"{end} is before from {start}")
        out.append(Assignment(rep_id, row.required("plan_id"), start, end))
    return out


def read_directory_texts(texts: Mapping[str, Iterable[str] | None], period_id: str) -> Inputs:
    """Build engine inputs from the files' lines (``None`` for an optional file not present)."""
    reps_lines = texts.get("reps.csv")
    tx_lines = texts.get("transactions.csv")
    quota_lines = texts.get("quotas.csv")
    for name, value in (
        ("reps.csv", reps_lines),
        ("transactions.csv", tx_lines),
        ("quotas.csv", quota_lines),
    ):
        if value is None:
            raise DataError("is missing", file=name)
    assert reps_lines is not None
    assert tx_lines is not None
    assert quota_lines is not None
    reps = read_reps(reps_lines)
    rep_ids = {r.id for r in reps}
    transactions = read_transactions(tx_lines, rep_ids)
    quotas = read_quotas(quota_lines, period_id, rep_ids)
    fx_lines = texts.get("fx.csv")
    assignment_lines = texts.get("assignments.csv")
    return Inputs(
        reps=tuple(reps),
        transactions=tuple(transactions),
        quotas=quotas,
        fx=read_fx(fx_lines) if fx_lines is not None else FxTable(),
        assignments=tuple(read_assignments(assignment_lines, rep_ids))
        if assignment_lines is not None
        else None,
    )
