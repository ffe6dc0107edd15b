"""A batch reads its people's own transactions with COPY (text format): values that COPY
escapes (a tab, a newline, a backslash, a value spelled like its NULL) and NULL beside ''
come back as they were stored, each transaction as `Transaction.build` makes it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.earnings.service import _transactions_of_each
from domain.engine.inputs import Transaction
from domain.kit.periods import parse_period
from tests.domain.builders import make_tenant, make_transaction, make_user, system_viewer

AWKWARD: list[tuple[str, str | None, str | None, str, dict[str, Any]]] = [
    # external id, type, state, currency, extra fields
    ("plain", "deal", "won", "EUR", {"product": "cloud"}),
    ("tab\there", None, "won", "EUR", {"product": "cloud"}),
    ("new\nline\r", "", "won", "EUR", {"product": "cloud"}),
    ("back\\slash\\N", "deal", None, "EUR", {"note": 'a "quote" \\ and \n and \t'}),
    ("\\N", "de\tal", "", "USD", {"note": "caf\u00e9 \u2603", "n": 1.5, "k": 2}),
    ("ctl\b\f\v\x01", "\\", "\\N", "GBP", {}),
]


async def test_given_values_copy_escapes_when_read_then_as_stored(db):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    for i, (tid, type_, state, currency, extra) in enumerate(AWKWARD):
        await make_transaction(
            rep=ana if i % 2 else ben,
            external_id=tid,
            amount=["40000", "12.5", "0.000001", "7", "-3.25", "100.10"][i],
            type=type_,
            state=state,
            currency=currency,
            extra=extra,
            on=f"2026-10-{i + 1:02d}",
        )
    period = parse_period("2026-10")
    found, currencies = await _transactions_of_each(system_viewer(tenant), [ana, ben], period)
    assert currencies == {"EUR", "USD", "GBP"}
    assert sum(map(len, found.values())) == len(AWKWARD)
    for i, (tid, type_, state, currency, extra) in enumerate(AWKWARD):
        rep = ana if i % 2 else ben
        (got,) = [t for t in found[rep.id] if t.id == tid]
        amount = Decimal(["40000", "12.5", "0.000001", "7", "-3.25", "100.1"][i])
        # jsonb keeps an object's keys shorter first, then in byte order
        ordered = sorted(extra.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
        want = Transaction.build(
            id=tid,
            rep_id=rep.external_id,
            amount=amount,
            currency=currency,
            date=date(2026, 10, i + 1),
            type=type_,
            state=state,
            extra={k: Decimal(str(v)) if isinstance(v, int | float) else v for k, v in ordered},
        )
        assert got == want
        assert list(got.fields.items()) == list(want.fields.items())
        assert str(got.amount) == str(want.amount)
        assert got.sole_credit


async def test_given_ids_out_of_date_order_when_read_then_each_person_in_id_order(db):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    # the index the batch reads by gives a person's rows by date; the ids grow otherwise
    for tid, rep, day in [
        ("t30", ana, 1), ("t4", ben, 2), ("t10", ana, 3), ("t2", ana, 4), ("t1", ben, 5),
    ]:  # fmt: skip
        await make_transaction(rep=rep, external_id=tid, amount=100, on=f"2026-10-{day:02d}")

    period = parse_period("2026-10")
    found, _ = await _transactions_of_each(system_viewer(tenant), [ana, ben], period)

    assert [t.id for t in found[ana.id]] == ["t10", "t2", "t30"]
    assert [t.id for t in found[ben.id]] == ["t1", "t4"]
