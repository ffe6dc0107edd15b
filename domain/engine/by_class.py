"""Crediting by class: the fast path of the crediting pass, for plans whose filters and
``payable_when`` read only low-cardinality fields and whose measures sum ``amount`` or count.

For such a plan all that a transaction contributes is decided by its *key*: (date, currency,
the fields the expressions read). Each distinct key is classified once: in the period or not,
its FX rate, the measures it passes, whether it is payable, the line components (SPIFF windows)
it falls in. Keys with the same verdict share a *class*, and the hot loop does one thing per
credit: add the converted amount to the per-rep sum of the class's (payable, measures) verdict
(and append the rep, counted in C afterwards). Per-measure totals are then the sums of those
sums, instead of every measure adding every transaction itself. Line items carry the natural
order of their ids (`LineOrder`), so `calculate` need not sort a rep's own lines again.

Decimal addition is exact unless a result needs more than 28 significant digits, and an exact
sum does not depend on the order of its terms (value, sign and exponent alike), so these totals
are the ones the transaction-by-transaction loop of `calculate` computes;
`tests/domain/engine/test_by_class.py` holds the two paths to that. A sum that traps (say
Infinity + -Infinity) raises `Fallback`, and the caller credits with the general loop instead,
which attributes the failure to its transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from itertools import compress, repeat
from operator import add, itemgetter
from typing import Any

from domain.engine.inputs import ONE, FxTable, Transaction
from domain.engine.plan import Plan

ZERO = Decimal(0)
# Fields whose values are (nearly) unique per transaction: a key reading them would not repeat.
UNCACHEABLE = frozenset({"id", "amount", "amount_original", "date"})
CACHE_LIMIT = 65536
# A credit explained as a line: (order among the rep's credits, transaction id, credited value
# = value x share, satisfies payable_when)
LineItem = tuple[Any, str, Decimal, bool]
# The order of a line item here: (stem, digit count, trailing digits, transaction position) of
# its transaction id, so the items of a rep sort into the natural order of their ids ('j2'
# before 'j10'), ties in transaction order: the order of `calculate`'s lines, whose sort key
# is (stem, digit count, id, rep). For ids of one stem and digit count, the trailing digits
# (as long as each other) order them as the ids themselves do.
LineOrder = tuple[str, int, str, int]
_DIGITS = "0123456789"

_SKIP: Any = ("skip",)  # out of the period, or no measure passes: nothing to credit
_ORDER = itemgetter(0)
_NO_RATE = object()  # in the period, but no FX rate on or before the date
# Adding it changes nothing, not even the exponent or the sign of a zero (Decimal(0) would
# turn 1E+3 into 1000 and -0.00 into 0.00): the start of a sum that must equal its terms'.
_IDENTITY = Decimal("-0E+999999")


class Fallback(Exception):
    """The class sums cannot reproduce the general loop here: credit with that loop instead."""


def applies(plan: Plan) -> bool:
    """Whether every transaction's contribution is decided by its key (see the module doc)."""
    exprs = [m.filter for m in plan.measures] + [plan.payable_when]
    if any(e is not None and e.names & UNCACHEABLE for e in exprs):
        return False
    return all(m.value is None for m in plan.measures)


def key_names(plan: Plan) -> tuple[str, ...]:
    names: set[str] = set()
    for e in [m.filter for m in plan.measures] + [plan.payable_when]:
        if e is not None:
            names |= e.names
    return tuple(sorted(names))


class _Sums:
    """The per-rep sums and the credited reps of every class with one (payable, measures)
    verdict: classes that differ only in their line components (a SPIFF window, say) add into
    the same sums, so the hot loop keeps fewer dicts hot and `sum_up` adds fewer columns."""

    __slots__ = ("measures", "payable", "reps", "sums")

    def __init__(self, payable: bool, measures: tuple[int, ...], rep_ids: Sequence[str]) -> None:
        self.payable = payable
        self.measures = measures  # indexes of the measures it passes
        # Every known rep starts at the identity, so the hot loop adds without a lookup first.
        self.sums: dict[str, Decimal] = dict.fromkeys(rep_ids, _IDENTITY)
        self.reps: list[str] = []


class _Class:
    """Transactions with the same verdict. The hot loop adds each credited amount to the
    per-rep sum of the class's `_Sums` and appends the credited rep there (and, for line
    classes, the position and value of the transaction here)."""

    __slots__ = ("entry_tail", "line_items", "lines", "measures", "payable", "reps", "total")

    def __init__(self, total: _Sums, lines: tuple[int, ...]) -> None:
        self.total = total
        self.payable = total.payable
        self.measures = total.measures
        self.lines = lines  # indexes (into ByClass.line_components) of the lines it explains
        # (transaction position, id, credited amount, payable), kept only when `lines`
        self.line_items: list[LineItem] = []
        # the credited rep of each line item, in the same order
        self.reps: list[str] = []
        self.entry_tail = (
            total.sums,
            total.reps.append,
            self.line_items.append if lines else None,
            self.reps.append,
            total.payable,
            self,
        )


class ByClass:
    """Credits transactions by class into per-measure accumulators and per-line items."""

    def __init__(
        self,
        plan: Plan,
        rep_ids: Sequence[str],
        start: date,
        end: date,
        fx: FxTable,
        line_components: Sequence[tuple[int, date | None, date | None]],
        fail_fx: Callable[[Transaction], None],
        fail: Callable[[Transaction, Any, Exception], None],
        failures: tuple[type[Exception], ...],
    ) -> None:
        self.plan = plan
        # The reps the run can read, in the key order of every class's sums.
        self.keys = list(dict.fromkeys(rep_ids))
        self.start, self.end = start, end
        self.fx = fx
        # (measure index, window start, window end) per line-based component
        self.line_components = line_components
        self.fail_fx, self.fail, self.failures = fail_fx, fail, failures
        self.is_count = [m.is_count for m in plan.measures]
        self.classes: dict[tuple[bool, tuple[int, ...], tuple[int, ...]], _Class] = {}
        self.totals: dict[tuple[bool, tuple[int, ...]], _Sums] = {}
        self.splits: list[tuple[_Class, int, str, Decimal, Decimal]] = []
        self.transactions: Sequence[Transaction] = ()
        # measure index -> rep -> [total, count, payable total], as the general loop keeps them
        self.accumulators: list[dict[str, list[Decimal]]] = [{} for _ in plan.measures]
        # line component -> rep -> its line items
        self.items: list[dict[str, list[LineItem]]] = [{} for _ in line_components]

    # --- the pass over the transactions ------------------------------------------------------
    def classify(self, t: Transaction) -> Any:
        """The entry for ``t``'s key: (rate or None, *class entry tail), `_SKIP`, or an
        entry whose rate is `_NO_RATE`."""
        day = t.date
        if day < self.start or day > self.end:
            return _SKIP
        rate: Any = None
        if t.currency != self.plan.currency:
            found = self.fx.rate(t.currency, day)
            if found is None:
                return (_NO_RATE, None, None, None, None, None, None)
            rate = found[1]
        fields = t.fields
        plan = self.plan
        payable = True if plan.payable_when is None else bool(plan.payable_when.evaluate(fields))
        measures = tuple(
            i for i, m in enumerate(plan.measures) if m.filter is None or m.filter.evaluate(fields)
        )
        if not measures:
            return _SKIP
        lines = tuple(
            k
            for k, (i, lo, hi) in enumerate(self.line_components)
            if i in measures and (lo is None or lo <= day) and (hi is None or day <= hi)
        )
        verdict = (payable, measures, lines)
        cls = self.classes.get(verdict)
        if cls is None:
            total = self.totals.get((payable, measures))
            if total is None:
                total = self.totals[payable, measures] = _Sums(payable, measures, self.keys)
            cls = self.classes[verdict] = _Class(total, lines)
        return (rate, *cls.entry_tail)

    def split(self, cls: _Class, position: int, rep_id: str, share: Decimal, amount: Any) -> None:
        self.splits.append((cls, position, rep_id, share, amount))

    def run(self, transactions: Sequence[Transaction]) -> None:
        self.transactions = transactions
        names = key_names(self.plan)
        namespace: dict[str, Any] = {
            "ONE": ONE,
            "DIGITS": _DIGITS,
            "SKIP": _SKIP,
            "NO_RATE": _NO_RATE,
            "FAILURES": self.failures,
            "CACHE_LIMIT": CACHE_LIMIT,
            "classify": self.classify,
            "split": self.split,
            "fail": self.fail,
            "fail_fx": self.fail_fx,
        }
        for n, name in enumerate(names):
            namespace[f"name{n}"] = name
        exec(compile(_loop_source(len(names)), "<crediting by class>", "exec"), namespace)  # noqa: S102
        try:
            namespace["credit"](transactions)
        except self.failures as exc:  # a sum trapped: only the general loop can say whose
            raise Fallback from exc
        self.sum_up()

    # --- per-measure totals and line items from the classes ------------------------------------
    def sum_up(self) -> None:
        keys = self.keys
        classes = list(self.classes.values())
        totals = list(self.totals.values())
        counts = {s: list(map(Counter(s.reps).get, keys, repeat(0))) for s in totals}
        try:
            for i, is_count in enumerate(self.is_count):
                passing = [s for s in totals if i in s.measures]
                if passing:
                    self._sum_measure(i, is_count, passing, counts)
            for cls, position, rep_id, share, amount in self.splits:
                self._add_split(cls, position, rep_id, share, amount)
        except self.failures as exc:
            raise Fallback from exc
        for cls in classes:
            if cls.lines:
                self._collect_lines(cls)
        for by_rep in self.items:
            for entries in by_rep.values():
                if len(entries) > 1:
                    entries.sort(key=_ORDER)

    def _sum_measure(
        self, i: int, is_count: bool, passing: list[_Sums], counts: dict[_Sums, list[int]]
    ) -> None:
        """Measure ``i``'s accumulators: its verdicts' per-rep sums added up column-wise (every
        `_Sums` holds `keys` in the same order)."""
        payable = [cls for cls in passing if cls.payable]
        credited = _add_up([counts[cls] for cls in passing])
        credited_payable = _add_up([counts[cls] for cls in payable]) if payable else None
        totals: list[Any]
        if is_count:
            totals = credited
            payable_totals = credited_payable
        else:
            totals = _add_up([list(cls.sums.values()) for cls in passing])
            payable_totals = (
                _add_up([list(cls.sums.values()) for cls in payable]) if payable else None
            )
        # Payable totals start at ZERO, as in the general loop: ZERO + the payable sum, which
        # for a rep without payable credits is the identity (or the count 0), so ZERO itself.
        counted = list(map(Decimal, credited))
        if is_count:
            totals = counted
        payable_starts: Any = repeat(ZERO)
        if payable_totals is not None:
            if is_count:
                payable_totals = list(map(Decimal, payable_totals))
            payable_starts = map(add, repeat(ZERO), payable_totals)
        rows = zip(totals, counted, payable_starts, strict=False)  # the starts may repeat forever
        # Only the reps with credits get an accumulator, as in the general loop.
        self.accumulators[i].update(
            zip(compress(self.keys, credited), map(list, compress(rows, credited)), strict=True)
        )

    def _collect_lines(self, cls: _Class) -> None:
        by_rep = _group(cls.reps, cls.line_items)
        for k in cls.lines:
            items = self.items[k]
            count_measure = self.is_count[self.line_components[k][0]]
            for rep_id, entries in by_rep.items():
                if count_measure:  # a count measure credits ONE per transaction, not its amount
                    entries = [(at, tid, ONE, payable) for at, tid, _, payable in entries]
                known = items.get(rep_id)
                if known is None:
                    items[rep_id] = list(entries)  # a copy: other line components extend theirs
                else:
                    known.extend(entries)

    def _add_split(
        self, cls: _Class, position: int, rep_id: str, share: Decimal, amount: Any
    ) -> None:
        payable = cls.payable
        for i in cls.measures:
            credited = share if self.is_count[i] else amount * share
            acc = self.accumulators[i]
            a = acc.get(rep_id)
            if a is None:
                acc[rep_id] = [credited, share, ZERO + credited if payable else ZERO]
            else:
                a[0] += credited
                a[1] += share
                if payable:
                    a[2] += credited
        for k in cls.lines:
            i = self.line_components[k][0]
            credited = share if self.is_count[i] else amount * share
            tid = self.transactions[position].id
            entry = (line_order(tid, position), tid, credited, payable)
            self.items[k].setdefault(rep_id, []).append(entry)

    def line_items(self, k: int, rep_id: str) -> list[LineItem]:
        """Line component ``k``'s credits of ``rep_id``, in the natural order of their ids,
        ties in transaction order (see `LineOrder`)."""
        return self.items[k].get(rep_id, [])


def line_order(transaction_id: str, position: int) -> LineOrder:
    """See `LineOrder`."""
    stem = transaction_id.rstrip(_DIGITS)
    digits = transaction_id[len(stem) :]
    return (stem, len(digits), digits, position)


def _add_up(columns: list[list[Any]]) -> list[Any]:
    """Element-wise sum of equally long columns (a C-level `map` per column)."""
    total = columns[0]
    for column in columns[1:]:
        total = list(map(add, total, column))
    return total


def _group(keys: list[str], values: list[Any]) -> dict[str, list[Any]]:
    """values grouped by key (in order), the appends run by C-level `map`s rather than a
    Python loop."""
    groups: defaultdict[str, list[Any]] = defaultdict(list)
    deque(map(list.append, map(groups.__getitem__, keys), values), maxlen=0)
    return groups


def _loop_source(n_names: int) -> str:
    """The hot loop, specialised to the number of key fields (read by subscript, missing ones
    as None). Only names from the namespace built in `ByClass.run` are used."""
    fields = [f"fields[name{n}]" for n in range(n_names)]
    gets = [f"fields.get(name{n})" for n in range(n_names)]
    key = ", ".join(["t.date", "t.currency", *fields])
    key_get = ", ".join(["t.date", "t.currency", *gets])
    return f"""\
def credit(transactions):
    cache = {{}}
    for position, t in enumerate(transactions):
        fields = t.fields
        try:
            key = ({key},)
        except KeyError:
            key = ({key_get},)
        try:
            entry = cache[key]
        except KeyError:
            entry = None
        except TypeError:  # an unhashable field value: classify without caching
            entry = None
            key = None
        if entry is None:
            try:
                entry = classify(t)
            except FAILURES as exc:
                fail(t, fields, exc)
                continue
            if key is not None and len(cache) < CACHE_LIMIT:
                cache[key] = entry
        if entry is SKIP:
            continue
        rate, sums, add_rep, add_line, add_line_rep, payable, cls = entry
        amount = t.amount
        if rate is not None:
            if rate is NO_RATE:
                fail_fx(t)
                continue
            amount = amount * rate
        for rep_id, share in t.credits:
            if share is ONE:
                try:
                    sums[rep_id] += amount
                except KeyError:  # a rep missing from Inputs.reps: never calculated, never read
                    pass
                add_rep(rep_id)
                if add_line is not None:
                    tid = t.id
                    stem = tid.rstrip(DIGITS)
                    digits = tid[len(stem):]
                    add_line(((stem, len(digits), digits, position), tid, amount, payable))
                    add_line_rep(rep_id)
            else:
                split(cls, position, rep_id, share, amount)
"""
