"""Engine benchmark: ``calculate`` on a large month against a plain-Python floor.

    python -m bench.engine                      # 20,000 reps, 1,000,000 transactions, best of 5
    python -m bench.engine --reps 2000 --transactions 100000 --runs 1   # a quick check
    python -m bench.engine --profile            # one engine run under cProfile, top 25

The data is generated deterministically from ``--seed`` (not timed): a plan like spec example
01 (marginal tiers on attainment + quota_club steps) plus a windowed SPIFF ``rate`` on a second
measure, a ``bonus`` with a ``condition`` and ``payable_when``; transactions in EUR, GBP and
USD with an FX table of several effective dates, some lost deals and renewals outside the
filters and some dated outside the period. Every rep has a quota, so every rep is calculated.
The transactions are built as the close's reader builds them: those alike share their `kind`.

The floor is the least any engine must do: one Python loop adding each transaction's Decimal
amount to its rep's total in a dict. The target is engine time <= 6x the floor (the engine is
all Python: the crediting pass's hot loop is generated Python, not C).

The printed fingerprint hashes every rep's totals, component amounts and lines: with the same
seed and sizes it must not change when the engine is optimised.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from domain.engine.calculate import calculate
from domain.engine.inputs import ONE, FxTable, Inputs, Rep, Transaction
from domain.engine.plan import Plan, parse_plan_text
from domain.engine.results import PlanResult
from domain.kit.periods import Period, parse_period

PERIOD = "2026-10"
TARGET_RATIO = 6.0
ZERO = Decimal(0)

PLAN_YAML = """\
id: ae-emea-bench
name: Account Executive EMEA (benchmark)
currency: EUR
period: month
payable_when: "state == 'activated'"
measures:
  - id: bookings
    filter: "type == 'deal' and state in ('won', 'activated')"
  - id: cloud_bookings
    filter: "type == 'deal' and state in ('won', 'activated') and product == 'cloud'"
components:
  - id: commission
    type: tiered
    measure: bookings
    basis: attainment
    method: marginal
    tiers:
      - {from: 0, rate: 0.02}
      - {from: 0.5, rate: 0.05}
      - {from: 1.0, rate: 0.08}
  - id: quota_club
    type: bonus
    measure: bookings
    steps:
      - {at: 1.0, amount: 1000}
      - {at: 1.25, amount: 2500}
  - id: cloud_spiff
    type: rate
    measure: cloud_bookings
    rate: 0.03
    window: {from: '2026-10-15', to: '2026-10-31'}
  - id: cloud_kicker
    type: bonus
    condition: "count('cloud_bookings') >= 5 and attainment('bookings') >= 0.9"
    amount: 750
"""

# Plan-currency (EUR) units per one unit of the currency, by effective date.
FX_RATES: dict[str, list[tuple[str, str]]] = {
    "GBP": [
        ("2026-08-31", "1.1612"),
        ("2026-09-15", "1.1587"),
        ("2026-10-01", "1.1634"),
        ("2026-10-08", "1.1659"),
        ("2026-10-15", "1.1571"),
        ("2026-10-22", "1.1602"),
        ("2026-10-29", "1.1648"),
        ("2026-11-05", "1.1625"),
    ],
    "USD": [
        ("2026-08-31", "0.9213"),
        ("2026-09-15", "0.9188"),
        ("2026-10-01", "0.9247"),
        ("2026-10-08", "0.9162"),
        ("2026-10-15", "0.9205"),
        ("2026-10-22", "0.9231"),
        ("2026-10-29", "0.9179"),
        ("2026-11-05", "0.9196"),
    ],
}

# (cumulative probability, value) tables for the generator.
CURRENCIES = ((0.70, "EUR"), (0.85, "GBP"), (1.0, "USD"))
DEAL_STATES = ((0.45, "won"), (0.80, "activated"), (0.95, "lost"), (1.0, "open"))
PRODUCTS = ((0.30, "cloud"), (0.80, "onprem"), (1.0, "services"))
SHARE_OUTSIDE_PERIOD = 0.08
SHARE_RENEWALS = 0.05
MIN_CENTS, MAX_CENTS = 500_00, 20_000_00


def _pick(table: Sequence[tuple[float, str]], x: float) -> str:
    for limit, value in table:
        if x < limit:
            return value
    return table[-1][1]


def build_plan() -> Plan:
    return parse_plan_text(PLAN_YAML, source="bench plan")


def build_inputs(n_reps: int, n_transactions: int, seed: int, period: Period) -> Inputs:
    """Deterministic reps, transactions, quotas and FX rates for ``period``."""
    rng = random.Random(seed)
    width = len(str(max(n_reps - 1, 1)))
    rep_ids = [f"r{i:0{width}d}" for i in range(n_reps)]

    reps: list[Rep] = []
    for i, rep_id in enumerate(rep_ids):
        manager = rep_ids[(i // 10) * 10] if i % 10 else None  # teams of 10 (scope is self)
        # A few reps start during the month, so their quotas are prorated.
        hired = period.start + timedelta(days=rng.randrange(1, 20)) if rng.random() < 0.02 else None
        reps.append(Rep(id=rep_id, name=f"Rep {i}", manager_id=manager, hire_date=hired))

    # Shared date objects, from the month before the period to the month after it.
    before = [period.start - timedelta(days=d) for d in range(1, 31)]
    inside = [period.start + timedelta(days=d) for d in range(period.days)]
    after = [period.end + timedelta(days=d) for d in range(1, 31)]
    outside = before + after

    # Built as the close's reader builds them (`domain.earnings.service`): transactions alike
    # (currency, type, state, extra fields) share one `Transaction.kind`, and a rep's sole
    # credits share one ``credits`` tuple.
    kinds: dict[tuple[str, str, str, str], dict[str, object]] = {}
    credits = {rep_id: ((rep_id, ONE),) for rep_id in rep_ids}
    transactions: list[Transaction] = []
    append = transactions.append
    random_ = rng.random
    randrange = rng.randrange
    choice = rng.choice
    sole = Transaction.sole
    width_t = len(str(max(n_transactions - 1, 1)))
    for n in range(n_transactions):
        day = choice(outside) if random_() < SHARE_OUTSIDE_PERIOD else choice(inside)
        if random_() < SHARE_RENEWALS:
            kind, state = "renewal", "won"
        else:
            kind, state = "deal", _pick(DEAL_STATES, random_())
        cents = randrange(MIN_CENTS, MAX_CENTS)
        rep_id = rep_ids[randrange(n_reps)]
        currency = _pick(CURRENCIES, random_())
        product = _pick(PRODUCTS, random_())
        shared = kinds.get((currency, kind, state, product))
        if shared is None:
            shared = kinds[(currency, kind, state, product)] = Transaction.kind_of(
                currency, kind, state, {"product": product}
            )
        amount = Decimal(cents).scaleb(-2)
        append(sole(f"t{n:0{width_t}d}", rep_id, amount, currency, day, credits[rep_id], shared))

    # Quotas around what a rep books, so attainments spread over every tier and step.
    mean_eur = (MIN_CENTS + MAX_CENTS) / 200 * 1.01  # FX-weighted
    counted = (1 - SHARE_OUTSIDE_PERIOD) * (1 - SHARE_RENEWALS) * DEAL_STATES[1][0]
    expected = max(n_transactions / n_reps * counted * mean_eur, 1000.0)
    quotas = {
        (rep_id, "bookings"): Decimal(max(1, round(expected * rng.uniform(0.7, 1.4) / 1000))) * 1000
        for rep_id in rep_ids
    }

    fx = FxTable(
        (date.fromisoformat(day), currency, Decimal(rate))
        for currency, entries in FX_RATES.items()
        for day, rate in entries
    )
    return Inputs(reps=tuple(reps), transactions=tuple(transactions), quotas=quotas, fx=fx)


def floor(transactions: Sequence[Transaction], rep_ids: Sequence[str]) -> dict[str, Decimal]:
    """The floor: sum each rep's Decimal amounts, no filters, no FX, no results."""
    totals = dict.fromkeys(rep_ids, ZERO)
    for t in transactions:
        totals[t.rep_id] += t.amount
    return totals


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved(
    runs: int, floor_fn: Callable[[], object], engine_fn: Callable[[], object]
) -> tuple[list[float], list[float], object]:
    """``runs`` floor and engine timings taken in turn (floor, engine, floor, engine...), so
    that both see the same phases of a machine whose speed drifts (a shared virtual machine
    can differ by 2x from one second to the next), and the engine's first result."""
    floor_times: list[float] = []
    engine_times: list[float] = []
    first: object = None
    for i in range(runs):
        elapsed, _ = _timed(floor_fn)
        floor_times.append(elapsed)
        elapsed, result = _timed(engine_fn)
        engine_times.append(elapsed)
        if i == 0:
            first = result
        del result
    return floor_times, engine_times, first


def fingerprint(result: PlanResult) -> tuple[str, int, Decimal, Decimal, Decimal]:
    """(sha256 prefix, lines, total, payable, sum of line amounts) of a result."""
    digest = hashlib.sha256()
    lines = 0
    total = payable = line_sum = ZERO
    for r in result.reps:
        total += r.total
        payable += r.payable
        parts = [r.rep_id, str(r.total), str(r.payable), str(r.pending), str(r.cap_adjustment)]
        parts += [f"{m.id}={m.total}/{m.quota}" for m in r.measures]
        parts += [f"{c.id}={c.amount}/{c.payable}" for c in r.components]
        digest.update("|".join(parts).encode())
        for line in r.lines:
            lines += 1
            line_sum += line.amount
            digest.update(f"{line.component}:{line.transaction_id}:{line.amount};".encode())
    for e in result.errors:
        digest.update(f"!{e.rep_id}:{e.message}".encode())
    return digest.hexdigest()[:16], lines, total, payable, line_sum


def sanity(result: PlanResult, expected_reps: int) -> bool:
    digest, lines, total, payable, line_sum = fingerprint(result)
    print(
        f"sanity: {len(result.reps):,} reps calculated, {len(result.errors):,} errors, "
        f"{lines:,} lines (sum {line_sum:,.2f})"
    )
    print(
        f"        total {total:,.2f} {result.currency}, payable {payable:,.2f} "
        f"{result.currency}, fingerprint {digest}"
    )
    for e in result.errors[:5]:
        print(f"        error {e.rep_id}: {e.message}")
    if len(result.reps) != expected_reps:
        print(f"FAIL: expected {expected_reps:,} reps in the result, got {len(result.reps):,}")
        return False
    return True


def _times(times: Sequence[float]) -> str:
    return ", ".join(f"{t:.3f}" for t in times)


def profile(plan: Plan, period: Period, inputs: Inputs, top: int = 25) -> PlanResult:
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    result = calculate(plan, period, inputs)
    profiler.disable()
    for key in ("cumulative", "tottime"):
        print(f"\n--- top {top} by {key} ---")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(key).print_stats(top)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--reps", type=int, default=20_000, help="reps (default 20,000)")
    parser.add_argument(
        "--transactions", type=int, default=1_000_000, help="transactions (default 1,000,000)"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs of each, in turn, best kept (default 5)"
    )
    parser.add_argument("--seed", type=int, default=20261001, help="data seed (default 20261001)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the engine once under cProfile and print the top 25 functions (no timing)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when the ratio misses the target"
    )
    args = parser.parse_args(argv)
    if args.reps < 1 or args.transactions < 1 or args.runs < 1:
        parser.error("--reps, --transactions and --runs must be at least 1")

    period = parse_period(PERIOD)
    plan = build_plan()
    print(
        f"Podium engine benchmark: {args.reps:,} reps, {args.transactions:,} transactions, "
        f"plan {plan.id}, period {period.id}, seed {args.seed}"
    )
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    started = time.perf_counter()
    inputs = build_inputs(args.reps, args.transactions, args.seed, period)
    print(f"data generated in {time.perf_counter() - started:.1f} s (not timed)")

    if args.profile:
        result = profile(plan, period, inputs)
        return 0 if sanity(result, args.reps) else 1

    transactions = inputs.transactions
    rep_ids = [r.id for r in inputs.reps]
    floor_times, engine_times, result = interleaved(
        args.runs, lambda: floor(transactions, rep_ids), lambda: calculate(plan, period, inputs)
    )
    assert isinstance(result, PlanResult)
    floor_best, engine_best = min(floor_times), min(engine_times)

    n = len(transactions)
    ratio = engine_best / floor_best
    # Each engine run against the floor run just before it: less sensitive to drift than
    # best against best, printed beside it (the verdict stays on best against best).
    paired = statistics.median(e / f for f, e in zip(floor_times, engine_times, strict=True))
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(f"best of {args.runs} run(s) each, floor and engine in turn")
    print(
        f"floor  : {floor_best:8.3f} s  {n / floor_best:>12,.0f} transactions/s  "
        f"[{_times(floor_times)}]"
    )
    print(
        f"engine : {engine_best:8.3f} s  {n / engine_best:>12,.0f} transactions/s  "
        f"[{_times(engine_times)}]"
    )
    print(
        f"ratio engine/floor: {ratio:.2f}x "
        f"(target: engine <= {TARGET_RATIO:g}x the floor) {verdict}"
    )
    print(
        f"median of the {args.runs} paired ratios (each engine run / the floor run before "
        f"it): {paired:.2f}x"
    )
    ok = sanity(result, args.reps)
    if not ok:
        return 1
    return 1 if args.strict and verdict == "MISS" else 0


if __name__ == "__main__":
    sys.exit(main())
