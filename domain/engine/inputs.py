"""What the engine calculates from: reps, credited transactions, quotas, FX rates, assignments.

Plain frozen values, built by whoever reads the data (CSV files, the database, a benchmark).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any

ONE = Decimal(1)
SHARE_TOLERANCE = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Rep:
    id: str
    name: str = ""
    manager_id: str | None = None
    hire_date: date | None = None
    end_date: date | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


# What `Transaction.fields` holds of a transaction's own values (an extra field of one of
# these names is not seen: the column is)
OWN_FIELDS = frozenset({"id", "rep_id", "amount", "amount_original", "date"})


@dataclass(frozen=True, slots=True)
class Transaction:
    """A CRM record as credited. ``credits`` is ((rep_id, share), ...). ``kind`` is what
    expressions see of it besides its own values: its extra fields, type, currency and state,
    a mapping that transactions alike share (read-only); ``fields`` is all they see, made
    when asked. A batch's reader shares one ``kind`` among its transactions of one type, state,
    currency and extra fields: a dict of each transaction's fields, copied and filled for each
    of a close chunk's 230,000, was a twentieth of the chunk's CPU and about 60 MiB of a close
    process's peak."""

    id: str
    rep_id: str
    amount: Decimal
    currency: str
    date: date
    credits: tuple[tuple[str, Decimal], ...]
    kind: Mapping[str, Any]
    # Derived: whether ``credits`` is ((rep_id, ONE),), all of it to ``rep_id`` (the share
    # being the ONE object). Set on construction, while ``credits`` is at hand, so that the
    # engine's pass over a million transactions need not read every ``credits`` tuple.
    sole_credit: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        credits = self.credits
        sole = len(credits) == 1 and credits[0][1] is ONE and credits[0][0] == self.rep_id
        object.__setattr__(self, "sole_credit", sole)

    @property
    def fields(self) -> dict[str, Any]:
        """What expressions see: ``kind`` and the transaction's own values (`OWN_FIELDS`, the
        date as an ISO string so that it compares with '2026-10-15'). A new dict each time."""
        fields = dict(self.kind)
        fields["id"] = self.id
        fields["rep_id"] = self.rep_id
        fields["amount"] = self.amount
        fields["amount_original"] = self.amount
        fields["date"] = self.date.isoformat()
        return fields

    @staticmethod
    def kind_of(
        currency: str, type: str | None, state: str | None, extra: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The ``kind`` of a transaction with these columns and extra fields."""
        kind = {k: v for k, v in (extra or {}).items() if k not in OWN_FIELDS}
        kind["type"] = type
        kind["currency"] = currency
        kind["state"] = state
        return kind

    @staticmethod
    def sole(
        id: str,
        rep_id: str,
        amount: Decimal,
        currency: str,
        date: dt.date,
        credits: tuple[tuple[str, Decimal], ...],
        kind: Mapping[str, Any],
    ) -> Transaction:
        """A transaction credited wholly to ``rep_id``: ``credits`` is ((rep_id, ONE),) and
        ``kind`` is `kind_of` its columns; both may be shared with other transactions
        (read-only). What a batch reader calls a million times: built as a `_Building` (the
        same slots, plain assignments) and then made a Transaction, frozen like any other,
        without the frozen dataclass's checked __init__ (half the cost of setting each slot
        through its descriptor, a third of the checked __init__'s)."""
        t = _Building()
        t.id = id
        t.rep_id = rep_id
        t.amount = amount
        t.currency = currency
        t.date = date
        t.credits = credits
        t.kind = kind
        t.sole_credit = True
        t.__class__ = Transaction  # type: ignore[assignment]
        return t  # type: ignore[return-value]

    @staticmethod
    def build(
        *,
        id: str,
        rep_id: str,
        amount: Decimal,
        currency: str,
        date: dt.date,
        type: str | None = None,
        state: str | None = None,
        splits: Iterable[tuple[str, Decimal]] | None = None,
        extra: Mapping[str, Any] | None = None,
        kind: Mapping[str, Any] | None = None,
    ) -> Transaction:
        """``kind``, when given, is `kind_of` the same columns, made once by a reader for the
        transactions alike (``type``, ``state`` and ``extra`` are then not read)."""
        credits = tuple(splits) if splits else ((rep_id, ONE),)
        if kind is None:
            kind = Transaction.kind_of(currency, type, state, extra)
        return Transaction(id, rep_id, amount, currency, date, credits, kind)


class _Building:
    """A Transaction under construction (`Transaction.sole`): its slots, in its order, so
    that an instance may become a Transaction by assigning ``__class__``."""

    __slots__ = Transaction.__slots__
    id: str
    rep_id: str
    amount: Decimal
    currency: str
    date: dt.date
    credits: tuple[tuple[str, Decimal], ...]
    kind: Mapping[str, Any]
    sole_credit: bool


def by_id(transactions: Sequence[Transaction]) -> dict[str, Transaction]:
    """``transactions`` by id, the first of an id kept: built from the last to the first by
    C-level maps (a Python loop was 1.5% of a close chunk's CPU)."""
    backwards = transactions[::-1]
    return dict(zip(map(_ID, backwards), backwards, strict=True))


_ID = attrgetter("id")


def shares_add_up(shares: Iterable[Decimal]) -> bool:
    return abs(sum(shares, Decimal(0)) - ONE) <= SHARE_TOLERANCE


@dataclass(frozen=True, slots=True)
class Assignment:
    rep_id: str
    plan_id: str
    start: date | None = None
    end: date | None = None


class FxTable:
    """Rates in plan-currency units per one unit of a currency, by effective date."""

    def __init__(self, rates: Iterable[tuple[date, str, Decimal]] = ()) -> None:
        by_currency: dict[str, list[tuple[date, Decimal]]] = {}
        for day, currency, rate in rates:
            by_currency.setdefault(currency, []).append((day, rate))
        self._dates: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, entries in by_currency.items():
            entries.sort(key=lambda e: e[0])
            self._dates[currency] = [d for d, _ in entries]
            self._rates[currency] = [r for _, r in entries]

    def rate(self, currency: str, day: date) -> tuple[date, Decimal] | None:
        """The rate whose date is the latest on or before ``day``, with that date."""
        dates = self._dates.get(currency)
        if not dates:
            return None
        i = bisect_right(dates, day)
        if i == 0:
            return None
        return dates[i - 1], self._rates[currency][i - 1]


@dataclass(frozen=True, slots=True)
class Inputs:
    reps: tuple[Rep, ...]
    transactions: tuple[Transaction, ...]
    quotas: Mapping[tuple[str, str], Decimal]  # (rep_id, measure) -> quota of the period
    fx: FxTable = field(default_factory=FxTable)
    assignments: tuple[Assignment, ...] | None = None  # None: every rep on the plan throughout
