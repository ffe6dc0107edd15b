"""`Transaction.sole`, the batch reader's constructor, builds what `Transaction.build` does
for a transaction credited wholly to its rep, and the result is as frozen."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from domain.engine.inputs import ONE, Transaction


def test_given_a_sole_credit_when_built_either_way_then_the_same_transaction() -> None:
    built = Transaction.build(
        id="t1",
        rep_id="ana",
        amount=Decimal("12.50"),
        currency="EUR",
        date=date(2026, 10, 5),
        type="deal",
        state="won",
        extra={"product": "cloud", "id": "ignored"},
    )
    kind = Transaction.kind_of("EUR", "deal", "won", {"product": "cloud", "id": "ignored"})

    sole = Transaction.sole(
        "t1", "ana", Decimal("12.50"), "EUR", date(2026, 10, 5), (("ana", ONE),), kind
    )

    assert sole == built
    assert sole.sole_credit
    assert built.sole_credit
    assert list(sole.fields.items()) == list(built.fields.items())
    assert built.fields == {
        "product": "cloud",
        "type": "deal",
        "currency": "EUR",
        "state": "won",
        "id": "t1",  # the column, not the extra field of that name
        "rep_id": "ana",
        "amount": Decimal("12.50"),
        "amount_original": Decimal("12.50"),
        "date": "2026-10-05",
    }
    assert sole.kind is kind  # shared, not copied
    with pytest.raises(dataclasses.FrozenInstanceError):
        sole.amount = Decimal(1)  # type: ignore[misc]
