"""Bulk import of reps, transactions and quotas into PostgreSQL: COPY into a staging table,
one upsert, all or nothing, row-level errors, one audit entry per import."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.crm import repository, service
from domain.crm.models import Transaction
from domain.crm.service import import_quotas, import_reps, import_transactions
from domain.kit.documents import dumps_exact
from domain.kit.errors import DataError, Forbidden
from domain.org.models import Role, User
from domain.org.service import set_manager
from domain.org.viewer import Viewer
from domain.plans.models import Quota
from tests.domain.builders import make_tenant, make_user, system_viewer, viewer_of
from tests.domain.races import Raced, race, rep_event_to_apply

REPS = (
    "id,name,manager_id,hire_date,end_date,email,region\n"
    "boss,Bea Boss,,2020-01-01,,bea@acme.example,north\n"
    "ana,Ana Alves,boss,2024-03-01,,ana@acme.example,north\n"
    "ben,,ana,,,ben@acme.example,2.50\n"
)
TRANSACTIONS = (
    "id,rep_id,type,amount,currency,date,state,splits,kwp,product,version\n"
    "t1,ana,solar,12345.67,EUR,2026-10-03,signed,,9.6,PV 9.6 kWp,3\n"
    "t2,ben,heat_pump,20000,EUR,2026-10-04,activated,ana:0.6;ben:0.4,,,\n"
    "t3,ana,energy_contract,0.000001,USD,2026-10-05,activated,,0.1234567890123456789,,\n"
)
QUOTAS = "rep_id,measure,period,value\nana,bookings,2026-10,100000\nben,bookings,2026-Q4,250000.5\n"


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


async def counts() -> dict[str, int]:
    return {
        "users": await User.all().count(),
        "transactions": await Transaction.all().count(),
        "quotas": await Quota.all().count(),
        "audit": await AuditEntry.filter(action__startswith="import.").count(),
    }


async def tenant_with_people():
    tenant = await make_tenant()
    viewer = system_viewer(tenant)
    async with in_transaction():
        await import_reps(viewer=viewer, lines=lines(REPS))
    return tenant, viewer


async def test_given_reps_file_when_imported_then_people_with_managers_resolved_in_the_file(db):
    tenant = await make_tenant()
    viewer = system_viewer(tenant)

    async with in_transaction():
        result = await import_reps(viewer=viewer, lines=lines(REPS))

    assert (result.rows, result.inserted, result.updated) == (3, 3, 0)
    people = {u.external_id: u for u in await User.filter(tenant_id=tenant.id)}
    assert people["ana"].manager_id == people["boss"].id
    assert people["ben"].manager_id == people["ana"].id
    assert people["boss"].manager_id is None
    assert people["ben"].display_name == "ben"  # no name: the CRM id
    assert people["ana"].email == "ana@acme.example"
    assert people["ana"].hire_date.isoformat() == "2024-03-01"
    assert all(u.role is Role.REP for u in people.values())
    # extra columns are attributes; decimals as exact strings
    assert people["ben"].attributes == {"region": "2.50"}


async def test_given_manager_already_in_tenant_when_reps_imported_then_it_is_resolved(db):
    tenant = await make_tenant()
    boss = await make_user(tenant=tenant, external_id="boss", role=Role.MANAGER)
    text = "id,name,manager_id,hire_date,end_date\nana,Ana,boss,,\n"

    async with in_transaction():
        await import_reps(viewer=system_viewer(tenant), lines=lines(text))

    ana = await User.get(tenant_id=tenant.id, external_id="ana")
    assert ana.manager_id == boss.id
    assert (await User.get(id=boss.id)).role is Role.MANAGER  # an import never changes roles


async def test_given_reps_reimported_when_changed_then_upserted_and_roles_kept(db):
    tenant, viewer = await tenant_with_people()
    boss = await User.get(tenant_id=tenant.id, external_id="boss")
    boss.role = Role.MANAGER
    await boss.save()
    text = "id,name,manager_id,hire_date,end_date,team\nboss,Bea B.,,,,alpha\nana,Ana,,,,beta\n"

    async with in_transaction():
        result = await import_reps(viewer=viewer, lines=lines(text))

    assert (result.inserted, result.updated, result.managers_changed) == (0, 2, 1)
    people = {u.external_id: u for u in await User.filter(tenant_id=tenant.id)}
    assert people["boss"].display_name == "Bea B."
    assert people["boss"].role is Role.MANAGER
    assert people["ana"].manager_id is None
    # attributes are merged: a file without a column keeps what the last one said
    assert people["ana"].attributes == {"region": "north", "team": "beta"}
    assert await User.filter(tenant_id=tenant.id).count() == 3


async def test_given_manager_cycle_through_existing_people_when_imported_then_row_error(db):
    tenant, viewer = await tenant_with_people()  # boss <- ana <- ben
    text = "id,name,manager_id,hire_date,end_date\nboss,Bea,ben,,\n"

    with pytest.raises(DataError) as info:
        async with in_transaction():
            await import_reps(viewer=viewer, lines=lines(text), file="move.csv")

    assert (info.value.file, info.value.row, info.value.column) == ("move.csv", 2, "manager_id")
    assert "cycle" in info.value.message
    assert (await User.get(tenant_id=tenant.id, external_id="boss")).manager_id is None


HEADER = "id,name,manager_id,hire_date,end_date\n"


async def _boss_and_ana() -> tuple[Viewer, dict[str, User]]:
    tenant = await make_tenant()
    viewer = system_viewer(tenant)
    async with in_transaction():
        await import_reps(viewer=viewer, lines=lines(f"{HEADER}boss,Bea,,,\nana,Ana,,,\n"))
    return viewer, {u.external_id: u for u in await User.filter(tenant_id=tenant.id)}


async def _boss_under_ana(viewer: Viewer) -> None:
    """`podium import reps` of boss under ana: one transaction, as the CLI runs it."""
    async with in_transaction():
        await import_reps(viewer=viewer, lines=lines(f"{HEADER}boss,Bea,ana,,\n"), file="move.csv")


async def _managers(viewer: Viewer) -> dict[str, str | None]:
    people = await User.filter(tenant_id=viewer.tenant_id)
    by_id = {u.id: u.external_id for u in people}
    return {u.external_id: by_id.get(u.manager_id) if u.manager_id else None for u in people}


def _refused_naming_the_row(raced: Raced) -> None:
    assert raced.waited
    assert isinstance(raced.error, DataError), raced
    assert (raced.error.file, raced.error.row, raced.error.column) == ("move.csv", 2, "manager_id")
    assert raced.error.message in {
        "manager cycle boss -> ana -> boss",
        "manager cycle ana -> boss -> ana",
    }


async def test_given_set_manager_held_open_when_an_import_closes_a_cycle_then_waits_and_row_error(
    db,
):
    """setManager (ana under boss) not committed yet, then an import of boss under ana: the
    import read the managers committed before it, found no cycle, and both were stored."""
    viewer, people = await _boss_and_ana()

    raced = await race(
        lambda: set_manager(viewer=viewer, user_id=people["ana"].id, manager_id=people["boss"].id),
        lambda: _boss_under_ana(viewer),
    )

    _refused_naming_the_row(raced)
    assert await _managers(viewer) == {"ana": "boss", "boss": None}


async def test_given_a_crm_rep_event_held_open_when_an_import_closes_a_cycle_then_waits_row_error(
    db,
):
    viewer, _ = await _boss_and_ana()
    ana_under_boss = await rep_event_to_apply(viewer, "ana", manager_id="boss")

    raced = await race(ana_under_boss, lambda: _boss_under_ana(viewer))

    _refused_naming_the_row(raced)
    assert await _managers(viewer) == {"ana": "boss", "boss": None}


async def test_given_an_import_held_open_when_another_closes_a_cycle_then_waits_and_row_error(db):
    viewer, _ = await _boss_and_ana()

    async def ana_under_boss() -> None:
        await import_reps(viewer=viewer, lines=lines(f"{HEADER}ana,Ana,boss,,\n"))

    raced = await race(ana_under_boss, lambda: _boss_under_ana(viewer))

    _refused_naming_the_row(raced)
    assert await _managers(viewer) == {"ana": "boss", "boss": None}


async def test_given_numbers_with_trailing_zeros_then_stored_as_written_as_a_webhook_stores_them(
    db,
):
    """An extra column's 10.0 is kept as 10.0 (not 10), as the webhook's `dumps_exact` keeps
    what the CRM sent: the same record stores the same text by either way in."""
    _, viewer = await tenant_with_people()
    csv = (
        "id,rep_id,type,amount,currency,date,state,splits,kwp,rate\n"
        "t1,ana,solar,100,EUR,2026-10-03,signed,,10.0,2.50\n"
    )

    async with in_transaction():
        await import_transactions(viewer=viewer, lines=lines(csv))

    [row] = await connections.get("default").execute_query_dict(
        "SELECT extra_fields::text AS extra FROM transactions"
    )
    assert row["extra"] == '{"kwp": 10.0, "rate": 2.50}'
    sent = dumps_exact({"kwp": Decimal("10.0"), "rate": Decimal("2.50")})
    [webhook] = await connections.get("default").execute_query_dict(
        "SELECT $1::jsonb::text AS extra", [sent]
    )
    assert webhook["extra"] == row["extra"]


async def test_given_transactions_when_imported_then_splits_credits_and_exact_fields(db):
    tenant, viewer = await tenant_with_people()
    people = {u.external_id: str(u.id) for u in await User.filter(tenant_id=tenant.id)}

    async with in_transaction():
        result = await import_transactions(viewer=viewer, lines=lines(TRANSACTIONS))

    assert (result.rows, result.inserted, result.updated, result.skipped) == (3, 3, 0, 0)
    rows = await connections.get("default").execute_query_dict(
        "SELECT external_id, rep_id, type, amount, currency, date, state, splits, "
        "credited_user_ids, extra_fields::text AS extra, version, deleted "
        "FROM transactions ORDER BY external_id"
    )
    t1, t2, t3 = rows
    assert str(t1["rep_id"]) == people["ana"]
    assert t1["amount"] == Decimal("12345.67")
    assert t1["splits"] is None
    assert json.loads(t1["credited_user_ids"]) == [people["ana"]]
    assert t1["version"] == 3
    assert t1["deleted"] is False
    # extra columns: numbers as exact JSON numbers, text as strings, empty cells as null
    assert json.loads(t1["extra"], parse_float=Decimal) == {
        "kwp": Decimal("9.6"),
        "product": "PV 9.6 kWp",
    }
    assert json.loads(t3["extra"], parse_float=Decimal)["kwp"] == Decimal("0.1234567890123456789")
    assert t3["amount"] == Decimal("0.000001")
    assert t3["currency"] == "USD"
    assert json.loads(t2["splits"]) == [
        {"rep_id": people["ana"], "share": "0.6"},
        {"rep_id": people["ben"], "share": "0.4"},
    ]
    assert json.loads(t2["credited_user_ids"]) == [people["ana"], people["ben"]]
    assert t2["version"] == 0


async def test_given_transactions_reimported_then_upserted_and_older_versions_skipped(db):
    tenant, viewer = await tenant_with_people()
    async with in_transaction():
        await import_transactions(viewer=viewer, lines=lines(TRANSACTIONS))
    text = (
        "id,rep_id,type,amount,currency,date,state,splits,version\n"
        "t1,ana,solar,1.00,EUR,2026-10-03,activated,,2\n"  # older than the stored 3: skipped
        "t2,ben,heat_pump,21000,EUR,2026-10-04,activated,,1\n"  # newer: replaces, no splits
        "t4,ben,solar,5,EUR,2026-10-06,signed,,\n"
    )

    async with in_transaction():
        result = await import_transactions(viewer=viewer, lines=lines(text))

    assert (result.rows, result.inserted, result.updated, result.skipped) == (3, 1, 1, 1)
    stored = {t.external_id: t for t in await Transaction.filter(tenant_id=tenant.id)}
    assert len(stored) == 4
    assert stored["t1"].amount == Decimal("12345.67")
    assert stored["t1"].version == 3
    assert stored["t2"].amount == Decimal("21000")
    assert stored["t2"].splits is None
    assert stored["t2"].extra_fields == {}


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("t9,zed,deal,1,EUR,2026-10-01,won,", "rep_id", "unknown rep 'zed'"),
        ("t9,ana,deal,1.2.3,EUR,2026-10-01,won,", "amount", "is not a number"),
        ("t9,ana,deal,1,EUR,2026-10-32,won,", "date", "is not a date"),
        ("t9,ana,deal,1,EUR,2026-10-01,won,ana:0.5;ben:0.4", "splits", "shares add up to 0.9"),
        ("t9,ana,deal,1,EUR,2026-10-01,won,ana:0.5;zed:0.5", "splits", "unknown rep 'zed'"),
        ("t9,ana,deal,0.1234567,EUR,2026-10-01,won,", "amount", "more than 6 decimals"),
        ("t9,ana,deal,1,EURO,2026-10-01,won,", "currency", "ISO 4217"),
    ],
)
async def test_given_one_bad_row_when_transactions_imported_then_error_and_nothing_written(
    db, row: str, column: str, fragment: str
):
    tenant, viewer = await tenant_with_people()
    before = await counts()
    text = (
        "id,rep_id,type,amount,currency,date,state,splits\n"
        "t1,ana,deal,100,EUR,2026-10-01,won,\n"
        f"{row}\n"
        "t3,ben,deal,100,EUR,2026-10-01,won,\n"
    )

    with pytest.raises(DataError) as info:
        async with in_transaction():
            await import_transactions(viewer=viewer, lines=lines(text), file="tx.csv")

    assert (info.value.file, info.value.row, info.value.column) == ("tx.csv", 3, column)
    assert fragment in info.value.message
    assert await counts() == before


async def test_given_bad_quota_row_when_imported_then_nothing_written(db):
    tenant, viewer = await tenant_with_people()
    before = await counts()
    text = "rep_id,measure,period,value\nana,bookings,2026-10,100\nben,bookings,2026-13,5\n"

    with pytest.raises(DataError) as info:
        async with in_transaction():
            await import_quotas(viewer=viewer, lines=lines(text), file="q.csv")

    assert (info.value.row, info.value.column) == (3, "period")
    assert await counts() == before


async def test_given_failure_after_the_upsert_when_in_transaction_then_nothing_is_kept(
    db, monkeypatch
):
    """All or nothing also when something fails after the rows reached the real table."""
    tenant, viewer = await tenant_with_people()
    before = await counts()
    upserted: list[int] = []

    async def audit_fails(viewer, result) -> None:
        upserted.append(await Transaction.all().count())
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(service, "_audit", audit_fails)

    with pytest.raises(RuntimeError, match="audit log unavailable"):
        async with in_transaction():
            await import_transactions(viewer=viewer, lines=lines(TRANSACTIONS))

    assert upserted == [3]  # the rows were in, inside the transaction
    assert await counts() == before


async def test_given_quotas_when_imported_twice_then_upserted(db):
    tenant, viewer = await tenant_with_people()
    async with in_transaction():
        first = await import_quotas(viewer=viewer, lines=lines(QUOTAS))
    changed = "rep_id,measure,period,value\nana,bookings,2026-10,120000\n"
    async with in_transaction():
        second = await import_quotas(viewer=viewer, lines=lines(changed))

    assert (first.inserted, first.updated) == (2, 0)
    assert (second.inserted, second.updated) == (0, 1)
    quotas = {(q.measure, q.period): q.value for q in await Quota.filter(tenant_id=tenant.id)}
    assert quotas == {
        ("bookings", "2026-10"): Decimal("120000"),
        ("bookings", "2026-Q4"): Decimal("250000.5"),
    }


async def test_given_imports_then_one_audit_entry_each_with_counts(db):
    tenant, viewer = await tenant_with_people()
    async with in_transaction():
        await import_transactions(viewer=viewer, lines=lines(TRANSACTIONS), file="tx.csv")
        await import_quotas(viewer=viewer, lines=lines(QUOTAS), file="q.csv")

    entries = await AuditEntry.filter(tenant_id=tenant.id, entity_type="import").order_by("id")
    assert [(e.action, e.entity_id) for e in entries] == [
        ("import.reps", "reps.csv"),
        ("import.transactions", "tx.csv"),
        ("import.quotas", "q.csv"),
    ]
    assert entries[1].after is not None
    assert entries[1].after["rows"] == 3
    assert entries[1].after["inserted"] == 3
    assert entries[1].actor_label == "system:tests"


async def test_given_progress_callback_when_imported_then_it_sees_every_row(db, monkeypatch):
    tenant, viewer = await tenant_with_people()
    monkeypatch.setattr(repository, "COPY_CHUNK", 2)
    seen: list[int] = []

    async with in_transaction():
        await import_transactions(viewer=viewer, lines=lines(TRANSACTIONS), progress=seen.append)

    assert seen == [2, 1]


async def test_given_a_rep_viewer_when_importing_then_forbidden(db):
    tenant, viewer = await tenant_with_people()
    ana = await User.get(tenant_id=tenant.id, external_id="ana")

    with pytest.raises(Forbidden):
        async with in_transaction():
            await import_quotas(viewer=viewer_of(ana), lines=lines(QUOTAS))


async def test_given_another_tenant_when_importing_then_its_reps_are_unknown(db):
    await tenant_with_people()
    other = await make_tenant(slug="other")

    with pytest.raises(DataError, match="unknown rep 'ana'"):
        async with in_transaction():
            await import_quotas(viewer=system_viewer(other), lines=lines(QUOTAS))


async def test_given_no_transaction_when_importing_then_refused(db):
    tenant, viewer = await tenant_with_people()

    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        await import_quotas(viewer=viewer, lines=lines(QUOTAS))
