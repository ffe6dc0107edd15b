"""`_merged`: a batch's transactions for one engine call, each once, person after person."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from domain.earnings.service import _merged
from domain.engine.inputs import ONE, Inputs, Rep, Transaction


def _sole(tid: str, rep: str) -> Transaction:
    return Transaction.sole(tid, rep, Decimal(1), "EUR", date(2026, 10, 1), ((rep, ONE),), {})


def _person(rep: str, transactions: list[Transaction]) -> tuple[Any, Inputs]:
    user = SimpleNamespace(external_id=rep)
    return user, Inputs(reps=(Rep(rep),), transactions=tuple(transactions), quotas={})


def test_given_people_then_their_transactions_person_after_person() -> None:
    a1, b1, a2 = _sole("t1", "ana"), _sole("t2", "ben"), _sole("t3", "ana")
    people = [_person("ana", [a1, a2]), _person("ben", [b1])]

    assert _merged(people) == [a1, a2, b1]


def test_given_a_split_deal_in_two_lists_then_it_once() -> None:
    split = Transaction.build(
        id="t9", rep_id="ana", amount=Decimal(10), currency="EUR", date=date(2026, 10, 2),
        splits=[("ana", Decimal("0.5")), ("ben", Decimal("0.5"))],
    )  # fmt: skip
    a1 = _sole("t1", "ana")
    people = [_person("ana", [a1, split]), _person("ben", [split])]

    merged = _merged(people)

    assert merged == [a1, split]
    assert merged[1] is split
