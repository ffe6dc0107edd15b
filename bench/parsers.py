"""Hostile input through the parsers where data enters: CPU per unit of work must not grow
with the size of the input (linear work), and refusals must cost about what parsing costs.

    .venv/bin/python -m bench.parsers

- Salesforce CDC: a GAP_UPDATE message listing N record ids, translated and serialised as the
  webhook stores it (the dead letters' bodies). Once quadratic: 2,000 ids took 17.8 s and
  stored 69 MiB. Reported: CPU and stored bytes per record id at N = 10, 100 and 1,000, and
  the ratio of the per-id CPU at 1,000 to that at 10 (target: below 3).
- Generic webhook: 1,000 one-byte invalid events (the most one request may carry) parsed and
  rejected, per event.
- Plans: the 450-byte YAML alias bomb and a 50,000-deep JSON plan refused, against parsing a
  valid plan (the baseline measured in the same run); the costliest plan text accepted for
  parsing (a YAML flow list as long as a plan may be).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from domain.engine.plan import MAX_PLAN_CHARACTERS, parse_plan_text
from domain.ingest.adapters import check_cdc_size, translate_cdc
from domain.ingest.events import parse_envelope, parse_event
from domain.kit.documents import dumps_exact
from domain.kit.errors import DomainError

MAPPING = {"transaction_object": "Opportunity", "rep_object": "User", "owner": "OwnerId"}
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
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    )
    + "id: [*f]\n"
)


def cpu(work: Callable[[], Any], repeat: int) -> float:
    """Best CPU seconds of one run over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def gap(ids: int) -> list[Any]:
    return [
        {
            "data": {
                "payload": {
                    "ChangeEventHeader": {
                        "entityName": "Opportunity",
                        "recordIds": [f"006{i:015d}" for i in range(ids)],
                        "changeType": "GAP_UPDATE",
                        "transactionKey": "k",
                        "sequenceNumber": 1,
                        "commitTimestamp": 1791021600000,
                    },
                    "Amount": "1.00",
                },
                "event": {"replayId": 1},
            }
        }
    ]


def stored_cdc(messages: list[Any]) -> int:
    check_cdc_size(messages)
    out = translate_cdc(messages, mapping=MAPPING, currency="EUR", bases={})
    return sum(len(dumps_exact(e)) for e in out.events)


def rejected_events(body: bytes) -> int:
    rejected = 0
    for raw in parse_envelope(body):
        try:
            parse_event(raw)
        except DomainError:
            rejected += 1
    return rejected


def refused(text: str) -> None:
    try:
        parse_plan_text(text)
    except DomainError:
        return
    raise AssertionError("accepted")


def main() -> None:
    print("Salesforce CDC GAP_UPDATE, per record id:")
    per_id: dict[int, float] = {}
    for n in (10, 100, 1_000):
        messages = gap(n)
        seconds = cpu(lambda m=messages: stored_cdc(m), 20)
        stored = stored_cdc(messages)
        per_id[n] = seconds / n
        print(
            f"  {n:>5} ids: {seconds * 1e6 / n:8.2f} µs CPU/id, {stored / n:8.1f} bytes stored/id"
        )
    ratio = per_id[1_000] / per_id[10]
    print(f"  CPU per id at 1,000 ids / at 10 ids: {ratio:.2f} (target < 3: linear)")

    body = json.dumps({"events": [0] * 1_000}).encode()
    seconds = cpu(lambda: rejected_events(body), 20)
    print(f"Generic webhook, 1,000 invalid events: {seconds * 1e6 / 1_000:.2f} µs CPU/event")

    baseline = cpu(lambda: parse_plan_text(PLAN), 20)
    bomb = cpu(lambda: refused(ALIAS_BOMB), 20)
    deep = cpu(lambda: refused('{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"), 5)
    print(f"Plans: a valid plan parsed in {baseline * 1e3:.2f} ms CPU (baseline)")
    print(f"  alias bomb refused in {bomb * 1e3:.2f} ms ({bomb / baseline:.2f}x the baseline)")
    print(f"  50,000-deep JSON refused in {deep * 1e3:.2f} ms ({deep / baseline:.2f}x)")
    widest = "x: [" + "1," * (MAX_PLAN_CHARACTERS // 2 - 4) + "1]"
    wide = cpu(lambda: refused(widest), 3)
    print(
        f"  a {len(widest) // 1024} KiB YAML flow list (the largest plan) refused in {wide:.2f} s"
    )


if __name__ == "__main__":
    main()
