"""Crediting by class: the fast path of the crediting pass, for plans whose filters and
``payable_when`` read only low-cardinality fields and whose measures sum ``amount`` or count.

For such a plan all that a transaction contributes is decided by its *key*: (date, currency,
the fields the expressions read). Each distinct key is classified once: in the period or not,
its FX rate, the measures it passes, whether it is payable, the line components (SPIFF windows)
it falls in. Keys with the same verdict share a *class*, and the hot loop does little per
credit: it appends the converted amount and the rep to the class's lists (and, for a class whose
credits are lines, makes the Line tuples while the transaction is at hand). Afterwards each
class's per-rep sums and counts are added up in C-level maps, one class at a time: adding each
amount to a per-rep sum in the hot loop would touch a scattered per-rep object per credit while
a million transactions stream by, which costs more. Per-measure totals, and the value of a
rate component's lines, are then the sums of class sums, instead of every measure adding every
transaction itself. When the ids of each rep's line credits come in natural order
(`LineOrder`), a rep's lines in transaction order are in line order already and need no sort;
otherwise they are sorted rep by rep. The hot loop checks the order of all the line credits
(cheap, and true of input sorted by id); when that fails, the lines are checked rep by rep
(`_in_order_by_rep`: true of a batch's people joined person after person, each sorted).

The hot loop is Python source specialised to the plan's key fields (`_loop_source`), compiled
once per process; the per-rep sums and counts are added up by C-level maps (`_Sums.columns`).

Decimal addition is exact unless a result needs more than 28 significant digits, and an exact
sum does not depend on the order of its terms (value, sign and exponent alike), so these totals
are the ones the transaction-by-transaction loop of `calculate` computes: any rounding in the
pass (the context's Rounded flag) raises `Fallback`, and so does a sum that traps (say
Infinity + -Infinity); the caller then credits with the general loop instead, which attributes
a failure to its transaction. `tests/domain/engine/test_by_class.py` holds the two paths to
giving the same results.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal, Rounded, getcontext
from functools import lru_cache, partial
from itertools import chain, compress, islice, repeat
from operator import add, itemgetter, mul
from types import CodeType
from typing import Any

from domain.engine.inputs import ONE, OWN_FIELDS, FxTable, Transaction
from domain.engine.plan import Plan
from domain.engine.results import Line

ZERO = Decimal(0)
# Fields whose values are (nearly) unique per transaction: a key reading them would not repeat.
# A transaction's own values (not its shared kind) but its rep, the same for all their deals.
UNCACHEABLE = OWN_FIELDS - {"rep_id"}
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
    """The credits of one class (one verdict). Classes that differ only in their line
    components (a SPIFF window, say) keep their own, so the value of a rate component's lines
    is the sum of its classes' sums (`ByClass._own_totals`).

    The hot loop only appends, in transaction order: the credited rep and the credited amount;
    `columns` adds them up per rep afterwards (see the module doc)."""

    __slots__ = ("amounts", "measures", "payable", "reps")

    def __init__(self, payable: bool, measures: tuple[int, ...]) -> None:
        self.payable = payable
        self.measures = measures  # indexes of the measures it passes
        self.reps: list[str] = []
        self.amounts: list[Decimal] = []

    def columns(self, keys: list[str]) -> tuple[list[Decimal], list[int]]:
        """(per-rep sum, per-rep number of credits) for ``keys``, in that order; the
        credits themselves are let go (they are summed once)."""
        # Every rep starts at the identity, so a sum is exactly its terms' sum, exponent and
        # sign of a zero included. Each amount is added to its rep's sum as it stands after
        # the amount before it, in transaction order, by C-level maps (lazy: dict.update
        # stores each pair before it takes the next from the zip). A rep missing from
        # Inputs.reps is never calculated: its sum is added up all the same (an addition may
        # trap) but never read.
        sums = dict.fromkeys(keys, _IDENTITY)
        reps = self.reps
        added = map(add, map(sums.get, reps, repeat(_IDENTITY)), self.amounts)
        sums.update(zip(reps, added, strict=True))
        counts = Counter(reps)
        # Let the credits go now rather than with the run's results (the converted amounts
        # are most of the pass's memory): what the run makes next, its results, reuses their
        # memory instead of fresh pages.
        reps.clear()
        self.amounts.clear()
        return list(map(sums.__getitem__, keys)), list(map(counts.get, keys, repeat(0)))


class _Class:
    """Transactions with the same verdict. The hot loop appends each credited amount and rep
    to the class's `_Sums` (and, for line classes, a Line per line component to `made`)."""

    __slots__ = ("entry_tail", "lines", "measures", "payable", "total")

    def __init__(self, total: _Sums, lines: tuple[int, ...], specs: tuple[_LineSpec, ...]) -> None:
        self.total = total
        self.payable = total.payable
        self.measures = total.measures
        self.lines = lines  # indexes (into ByClass.line_components) of the lines it explains
        # (without the class itself, which `classify` adds: in its own attribute it would make
        # a reference cycle, keeping the credits alive until the cyclic collector ran)
        self.entry_tail = (
            total.amounts.append,
            total.reps.append,
            specs if lines else None,  # how the hot loop makes the lines of a credit
            total.payable,
        )


# Per line component: (append a Line, append its rep, append its transaction,
# component id, rate, whether the measure counts): what the hot loop needs to make its lines
_LineSpec = tuple[
    Callable[[Line], None], Callable[[str], None], Callable[[Transaction], None], str, Decimal, bool
]
# Per line component: the Lines made in the hot loop, their reps, their transactions
_Made = tuple[list[Line], list[str], list[Transaction]]


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
        failures: tuple[type[Exception], ...],
        line_rates: Sequence[tuple[str, Decimal] | None] = (),
    ) -> None:
        """``line_rates``: per line component, (component id, rate) when `own_lines` will be
        asked for its lines (the hot loop then makes them as they will be, while the
        transaction is at hand)."""
        self.plan = plan
        # The reps the run can read, in the key order of every class's sums.
        self.keys = list(dict.fromkeys(rep_ids))
        self.start, self.end = start, end
        self.fx = fx
        # (measure index, window start, window end) per line-based component
        self.line_components = line_components
        self.failures = failures
        self.is_count = [m.is_count for m in plan.measures]
        self.classes: dict[tuple[bool, tuple[int, ...], tuple[int, ...]], _Class] = {}
        # per line component: (component id, rate) of its lines, if given
        self.line_rates = [
            line_rates[k] if k < len(line_rates) else None for k in range(len(line_components))
        ]
        # per line component: the lines the hot loop makes of its credits, in transaction
        # order, with a placeholder id and rate when not given
        self.made: list[_Made] = []
        self.specs: list[_LineSpec] = []
        for k, (i, _, _) in enumerate(line_components):
            made: _Made = ([], [], [])
            cid, rate = self.line_rates[k] or ("", ONE)
            self.made.append(made)
            self.specs.append(
                (made[0].append, made[1].append, made[2].append, cid, rate, self.is_count[i])
            )
        # Per line component, whether its made lines are in line order already (`LineOrder`),
        # with no split among its credits: then every rep's lines, in transaction order, are.
        self.ordered: list[bool] = [False for _ in line_components]
        # line component -> whether `items` lists its items by rep (built on demand when
        # `ordered`)
        self.listed: list[bool] = [False for _ in line_components]
        self.line_totals: dict[int, tuple[dict[str, Decimal], dict[str, Decimal]]] = {}
        # Whether the natural keys of the ids of the line credits strictly increase in
        # transaction order (then every rep's lines, in transaction order, are in line order)
        self.in_order = False
        self.totals: dict[tuple[bool, tuple[int, ...], tuple[int, ...]], _Sums] = {}
        self.splits: list[tuple[_Class, Transaction, str, Decimal, Decimal]] = []
        self.transactions: Sequence[Transaction] = ()
        self.positions: dict[int, int] | None = None  # id(transaction) -> its position
        # measure index -> rep -> [total, count, payable total], as the general loop keeps them
        self.accumulators: list[dict[str, list[Decimal]]] = [{} for _ in plan.measures]
        # line component -> rep -> its line items
        self.items: list[dict[str, list[LineItem]]] = [{} for _ in line_components]

    # --- the pass over the transactions ------------------------------------------------------
    def classify(self, t: Transaction) -> Any:
        """The entry for ``t``'s key: (rate, ONE in the plan currency, *class entry tail),
        `_SKIP`, or an entry whose rate is `_NO_RATE`."""
        day = t.date
        if day < self.start or day > self.end:
            return _SKIP
        rate: Any = ONE  # the plan currency: not converted
        if t.currency != self.plan.currency:
            found = self.fx.rate(t.currency, day)
            if found is None:
                return (_NO_RATE, None, None, None, None, None)
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
            total = self.totals.get(verdict)
            if total is None:
                total = self.totals[verdict] = _Sums(payable, measures)
            specs = tuple(map(self.specs.__getitem__, lines))
            cls = self.classes[verdict] = _Class(total, lines, specs)
        return (rate, *cls.entry_tail, cls)

    def split(self, cls: _Class, t: Transaction, rep_id: str, share: Decimal, amount: Any) -> None:
        self.splits.append((cls, t, rep_id, share, amount))

    def position(self, t: Transaction) -> int:
        """``t``'s position among the transactions (only the line order of items whose ids
        tie needs it: looked up when the lines are not in order already)."""
        if self.positions is None:
            self.positions = {id(x): i for i, x in enumerate(self.transactions)}
            if len(self.positions) != len(self.transactions):  # one object twice
                raise Fallback
        return self.positions[id(t)]

    def run(
        self,
        transactions: Sequence[Transaction],
        fail_fx: Callable[[Transaction], None],
        fail: Callable[[Transaction, Any, Exception], None],
    ) -> None:
        """Credit ``transactions``; ``fail_fx`` and ``fail`` record a transaction without an FX
        rate or whose evaluation failed. They are the calculation's methods and are not kept:
        kept, they would close a reference cycle with it (it keeps `line_items`), which only
        the cyclic collector could free, rescanning every input and result to do so."""
        self.transactions = transactions
        # The sums here are the general loop's only if they are exact (then the order of their
        # terms does not matter): any rounding, and the general loop credits instead.
        flags = getcontext().flags
        was_rounded = flags[Rounded]
        flags[Rounded] = False
        try:
            try:
                self.in_order = self.credit(transactions, fail_fx, fail)
            except self.failures as exc:  # a conversion trapped: the general loop says whose
                raise Fallback from exc
            self.sum_up()
            if flags[Rounded]:
                raise Fallback
        finally:
            flags[Rounded] = flags[Rounded] or was_rounded

    def credit(
        self,
        transactions: Sequence[Transaction],
        fail_fx: Callable[[Transaction], None],
        fail: Callable[[Transaction, Any, Exception], None],
    ) -> bool:
        """The hot loop (`_loop_source`) over ``transactions``: whether the natural keys of the
        ids of the line credits strictly increase."""
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
            "new_tuple": tuple.__new__,
            "Line": Line,
            "fail": fail,
            "fail_fx": fail_fx,
        }
        for n, name in enumerate(names):
            namespace[f"name{n}"] = name
        exec(_loop_code(tuple(name == "rep_id" for name in names)), namespace)  # noqa: S102
        # Taken out of its own globals: left there, the function and the namespace would form
        # a reference cycle holding this pass (and the inputs) until the cyclic collector ran.
        credit = namespace.pop("credit")
        in_order: bool = credit(transactions)
        return in_order

    # --- per-measure totals and line items from the classes ------------------------------------
    def sum_up(self) -> None:
        keys = self.keys
        totals = list(self.totals.values())
        try:
            columns = _Columns({s: s.columns(keys) for s in totals}, self.totals)
            for i, is_count in enumerate(self.is_count):
                passing = [s for s in totals if i in s.measures]
                if passing:
                    self._sum_measure(i, is_count, passing, columns)
            for cls, t, rep_id, share, amount in self.splits:
                self._add_split(cls, t, rep_id, share, amount)
            split_lines = any(cls.lines for cls, *_ in self.splits)
            for k in range(len(self.made)):
                self.ordered[k] = not split_lines and (self.in_order or self._in_order_by_rep(k))
                if self.ordered[k] and self.line_rates[k] is not None:
                    self._own_totals(k, columns)
        except self.failures as exc:
            raise Fallback from exc
        for k, ordered in enumerate(self.ordered):
            if not ordered:
                self._list_items(k)
                for entries in self.items[k].values():
                    if len(entries) > 1:
                        entries.sort(key=_ORDER)

    def _sum_measure(
        self,
        i: int,
        is_count: bool,
        passing: list[_Sums],
        columns: _Columns,
    ) -> None:
        """Measure ``i``'s accumulators: its verdicts' per-rep sums added up column-wise (every
        column lists `keys` in the same order)."""
        payable = [cls for cls in passing if cls.payable]
        credited = columns.of(passing, 1)
        credited_payable = columns.of(payable, 1) if payable else None
        totals: list[Any]
        if is_count:
            totals = credited
            payable_totals = credited_payable
        else:
            totals = columns.of(passing, 0)
            payable_totals = columns.of(payable, 0) if payable else None
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

    def _in_order_by_rep(self, k: int) -> bool:
        """Whether the natural keys of the ids of each rep's lines of line component ``k``
        strictly increase in transaction order."""
        lines, reps, _ = self.made[k]
        last: dict[str, tuple[str, int, str]] = {}
        last_of = last.get
        for key, rep_id in zip(map(natural_key, map(_LINE_ID, lines)), reps, strict=True):
            if key > last_of(rep_id, ()):
                last[rep_id] = key
            else:
                return False
        return True

    def _own_totals(self, k: int, columns: _Columns) -> None:
        """The value and the payable value of every rep's own lines of line component ``k``,
        when its lines are in line order and none is a split: ZERO + the line values in line
        order is then, as every sum here is exact, ZERO + the sums of the classes whose
        credits are its lines."""
        count = self.is_count[self.line_components[k][0]]
        pick = 1 if count else 0
        classes = [s for verdict, s in self.totals.items() if k in verdict[2]]
        payable = [s for s in classes if s.payable]
        totals: list[dict[str, Decimal]] = []
        for chosen in (classes, payable):
            if not chosen:
                totals.append({})
                continue
            column = columns.of(chosen, pick)
            if count:
                column = list(map(Decimal, column))
            totals.append(dict(zip(self.keys, map(add, repeat(ZERO), column), strict=True)))
        self.line_totals[k] = (totals[0], totals[1])

    def own_line_totals(self, k: int) -> tuple[dict[str, Decimal], dict[str, Decimal]] | None:
        """(rep -> value, rep -> payable value) of the reps' own lines of line component
        ``k``, as `calculate` adds them up from the `own_lines`, when known without them."""
        return self.line_totals.get(k)

    def _list_items(self, k: int) -> None:
        """Line component ``k``'s items by rep (in transaction order, then a split's)."""
        self.listed[k] = True
        lines, reps, made_from = self.made[k]
        positions: Iterable[int] = repeat(0)  # in line order already: no ties to break
        if not self.ordered[k]:
            positions = map(self.position, made_from)
        ids = list(map(_LINE_ID, lines))
        orders = map(line_order, ids, positions)
        values, payables = map(_LINE_VALUE, lines), map(_LINE_PAYABLE, lines)
        items = list(zip(orders, ids, values, payables, strict=True))
        by_rep = self.items[k]
        for rep_id, entries in _group(reps, items).items():
            known = by_rep.get(rep_id)
            if known is not None:  # a split's items, added while summing up
                entries.extend(known)
            by_rep[rep_id] = entries

    def _add_split(
        self, cls: _Class, t: Transaction, rep_id: str, share: Decimal, amount: Any
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
            tid = t.id
            entry = (line_order(tid, self.position(t)), tid, credited, payable)
            self.items[k].setdefault(rep_id, []).append(entry)

    def line_items(self, k: int, rep_id: str) -> list[LineItem]:
        """Line component ``k``'s credits of ``rep_id``, in the natural order of their ids,
        ties in transaction order (see `LineOrder`)."""
        if not self.listed[k]:
            self._list_items(k)
        return self.items[k].get(rep_id, [])

    def own_lines(self, k: int, cid: str, rate: Decimal) -> dict[str, list[Line]]:
        """Every rep's own lines of line component ``k`` (the rate component ``cid``): for
        each rep with items the Line tuples `calculate` builds from its `line_items`, in the
        same order, for all reps at once in C-level maps."""
        if not self.ordered[k]:
            by_rep = self.items[k]
            counts = map(len, by_rep.values())
            listed = list(chain.from_iterable(by_rep.values()))
            values = list(map(_VALUE, listed))
            payables = list(map(_PAYABLE, listed))
            every = _make_lines(cid, map(_ID, listed), values, rate, payables)
            return dict(zip(by_rep, map(list, map(islice, repeat(every), counts)), strict=True))
        # A rep's lines are its credits in transaction order, made in the hot loop while the
        # transaction was at hand (rather than rep by rep here, which jumps about memory).
        made, reps, _ = self.made[k]
        lines: Iterable[Line] = made
        if self.line_rates[k] != (cid, rate) or self.specs[k][4] is not rate:
            values = list(map(_LINE_VALUE, made))
            payables = list(map(_LINE_PAYABLE, made))
            lines = _make_lines(cid, map(_LINE_ID, made), values, rate, payables)
        groups: defaultdict[str, list[Line]] = defaultdict(list)
        deque(map(list.append, map(groups.__getitem__, reps), lines), maxlen=0)
        return groups


def natural_key(text: str) -> tuple[str, int, str]:
    """'j2' before 'j10': ids that end in a number sort by that number, the way people
    number them; anything else sorts as text. Cheap enough to compute for every line."""
    stem = text.rstrip(_DIGITS)
    return (stem, len(text) - len(stem), text)


def line_order(transaction_id: str, position: int) -> LineOrder:
    """See `LineOrder`."""
    stem = transaction_id.rstrip(_DIGITS)
    digits = transaction_id[len(stem) :]
    return (stem, len(digits), digits, position)


class _Columns:
    """Per-rep sums (``pick`` 0) and counts (``pick`` 1) of sets of classes, each a list in
    the order of `ByClass.keys`. A set's column is the element-wise sum of its parts' columns
    (split by payable, then by measures, then by line components), and every part's column is
    kept: the totals of a measure, of its payable credits and of the next measure share most
    of their additions. The sums are exact, so how they are grouped does not change them."""

    def __init__(
        self,
        columns: dict[_Sums, tuple[list[Decimal], list[int]]],
        verdicts: dict[tuple[bool, tuple[int, ...], tuple[int, ...]], _Sums],
    ) -> None:
        self.columns = columns
        self.verdict = {s: v for v, s in verdicts.items()}
        self.known: dict[tuple[frozenset[_Sums], int], list[Any]] = {}

    def of(self, classes: Iterable[_Sums], pick: int) -> list[Any]:
        chosen = frozenset(classes)
        if len(chosen) == 1:
            (single,) = chosen
            return self.columns[single][pick]
        found = self.known.get((chosen, pick))
        if found is not None:
            return found
        verdict = self.verdict
        for dimension in range(3):
            parts: dict[Any, list[_Sums]] = {}
            for s in chosen:
                parts.setdefault(verdict[s][dimension], []).append(s)
            if len(parts) > 1:
                break
        ordered = sorted(parts.items(), key=_ORDER)
        total = self.of(ordered[0][1], pick)
        for _, part in ordered[1:]:
            total = list(map(add, total, self.of(part, pick)))
        self.known[(chosen, pick)] = total
        return total


def _group(keys: list[str], values: list[Any]) -> dict[str, list[Any]]:
    """values grouped by key (in order), the appends run by C-level `map`s rather than a
    Python loop."""
    groups: defaultdict[str, list[Any]] = defaultdict(list)
    deque(map(list.append, map(groups.__getitem__, keys), values), maxlen=0)
    return groups


_new_tuple = tuple.__new__
_as_line = partial(_new_tuple, Line)
_ID = itemgetter(1)
_VALUE = itemgetter(2)
_PAYABLE = itemgetter(3)
_LINE_ID = itemgetter(1)
_LINE_VALUE = itemgetter(3)
_LINE_PAYABLE = itemgetter(7)


def _make_lines(
    cid: str, ids: Iterable[str], values: list[Decimal], rate: Decimal, payables: list[bool]
) -> Iterator[Line]:
    """The lines of rate component ``cid``, one per (id, value, payable), as `calculate`'s
    ``_rate`` builds them."""
    amounts = map(mul, values, repeat(rate))
    fields = zip(repeat(cid), ids, repeat(""), values, repeat(rate), amounts, repeat(""), payables)
    return map(_as_line, fields)


# What the hot loop does with a credit of all of a transaction's value to rep_id.
_CREDIT = """\
add_amount(amount)
add_rep(rep_id)
if lines is not None:
    tid = t.id
    if in_order:  # so far, the natural keys of the ids strictly increase
        stem = tid.rstrip(DIGITS)
        line_key = (stem, len(tid) - len(stem), tid)
        if line_key > last_key:
            last_key = line_key
        else:
            in_order = False
    for add_made, add_made_rep, add_made_at, cid, line_rate, counted in lines:
        value = ONE if counted else amount
        line = (cid, tid, "", value, line_rate, value * line_rate, "", payable)
        add_made(new_tuple(Line, line))
        add_made_rep(rep_id)
        add_made_at(t)
"""


def _indent(source: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in source.rstrip("\n").splitlines())


@lru_cache(maxsize=64)
def _loop_code(reps: tuple[bool, ...]) -> CodeType:
    """The hot loop compiled once per process and key fields' shape (see `_loop_source`): a
    worker calculates one rep at a time, and compiling it anew was most of such a small
    run."""
    return compile(_loop_source(reps), "<crediting by class>", "exec")


def _loop_source(reps: tuple[bool, ...]) -> str:
    """The hot loop, specialised to the key fields: one per item of ``reps``, read by
    subscript from the transaction's `Transaction.kind` (missing ones as None), or, where the
    item is true, the transaction's rep_id (the only one of its own values a key reads).
    Only names from the namespace built in `ByClass.run` are used."""
    fields = ["t.rep_id" if rep else f"fields[name{n}]" for n, rep in enumerate(reps)]
    gets = ["t.rep_id" if rep else f"fields.get(name{n})" for n, rep in enumerate(reps)]
    key = ", ".join(["t.date", "t.currency", *fields])
    key_get = ", ".join(["t.date", "t.currency", *gets])
    return f"""\
def credit(transactions):
    cache = {{}}
    in_order = True
    last_key = ()
    for t in transactions:
        fields = t.kind
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
                fail(t, t.fields, exc)
                continue
            if key is not None and len(cache) < CACHE_LIMIT:
                cache[key] = entry
        if entry is SKIP:
            continue
        rate, add_amount, add_rep, lines, payable, cls = entry
        if rate is NO_RATE:
            fail_fx(t)
            continue
        # In the plan currency the amount itself (x ONE is the same value, exponent and sign):
        # a copy of each, 78 MB at 1M transactions, cost more to make (memory faulted in,
        # the multiplication) than it saved `columns` by lying side by side: 0.04-0.05 s.
        amount = t.amount if rate is ONE else t.amount * rate
        if t.sole_credit:  # the usual credit: ((t.rep_id, ONE),)
            rep_id = t.rep_id
{_indent(_CREDIT, 12)}
        else:
            for rep_id, share in t.credits:
                if share is ONE:
{_indent(_CREDIT, 20)}
                else:
                    split(cls, t, rep_id, share, amount)
    return in_order
"""
