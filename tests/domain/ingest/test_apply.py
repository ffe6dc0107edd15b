"""Applying inbox events: versions per record, reps, and the (rep, period)s each change
affects, written as recompute requests in the same transaction."""

from __future__ import annotations

import asyncio
import random
import string
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from domain.crm.models import Transaction
from domain.crm.service import import_reps
from domain.ingest import service
from domain.ingest.models import DeadLetter, InboxStatus, RecomputeRequest
from domain.ingest.repository import IngestRepository
from domain.kit.documents import MAX_INDEXED_BYTES
from domain.org.models import Role, User
from domain.org.service import set_manager
from tests.domain.builders import (
    assign,
    make_org,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.domain.races import Raced, race
from tests.workers.ingest_helpers import deal, deletion, rep_event

pytestmark = pytest.mark.usefixtures("db")


async def ingest(tenant: Any, *events: Any) -> list[int]:
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=list(events)
        )
    assert not result.rejected, result.rejected
    return result.inbox_ids


async def apply(tenant: Any, inbox_id: int) -> service.ApplyResult:
    async with in_transaction():
        return await service.apply_inbox_event(viewer=system_viewer(tenant), inbox_id=inbox_id)


def names(affected: Any, people: dict[Any, str]) -> set[tuple[str, str]]:
    return {(people[u], p) for u, p in affected}


async def monthly_world():
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    plan = await publish_plan(tenant=tenant, effective_from="2026-01-01")
    await assign(user=ana, plan=plan, effective_from="2026-01-01")
    await assign(user=ben, plan=plan, effective_from="2026-01-01")
    return tenant, {ana.id: "ana", ben.id: "ben"}


async def test_given_a_split_deal_when_applied_then_both_reps_period_affected_and_requested():
    tenant, people = await monthly_world()
    [inbox_id] = await ingest(
        tenant,
        deal("e1", splits=[{"rep_id": "ana", "share": "0.6"}, {"rep_id": "ben", "share": "0.4"}]),
    )

    result = await apply(tenant, inbox_id)

    assert result.status is InboxStatus.APPLIED
    assert names(result.affected, people) == {("ana", "2026-10"), ("ben", "2026-10")}
    requests = await RecomputeRequest.filter(tenant_id=tenant.id).order_by("period")
    assert {(people[r.user_id], r.period) for r in requests} == {
        ("ana", "2026-10"),
        ("ben", "2026-10"),
    }
    stored = await Transaction.get(tenant_id=tenant.id, external_id="opp-1")
    assert stored.amount == Decimal("40000")
    assert sorted(stored.credited_user_ids) == sorted(str(u) for u in people)


async def test_given_a_deal_moved_to_another_month_and_rep_then_old_and_new_periods_affected():
    tenant, people = await monthly_world()
    first, moved, resplit = await ingest(
        tenant,
        deal("e1", version=1, on="2026-10-30"),
        deal("e2", version=2, on="2026-11-02"),
        deal("e3", version=3, on="2026-11-02", splits=[{"rep_id": "ben", "share": "1"}]),
    )
    await apply(tenant, first)

    after_move = await apply(tenant, moved)
    after_resplit = await apply(tenant, resplit)

    assert names(after_move.affected, people) == {("ana", "2026-10"), ("ana", "2026-11")}
    assert names(after_resplit.affected, people) == {("ana", "2026-11"), ("ben", "2026-11")}
    generations = {
        (people[r.user_id], r.period): r.generation
        for r in await RecomputeRequest.filter(tenant_id=tenant.id)
    }
    assert generations == {("ana", "2026-10"): 2, ("ana", "2026-11"): 2, ("ben", "2026-11"): 1}


async def test_given_team_scope_plans_above_when_a_rep_sells_then_those_managers_are_affected():
    tenant = await make_tenant(slug="acme")
    org = await make_org(tenant=tenant, managers={"vp": None, "mia": "vp", "ana": "mia"})
    own = await publish_plan(
        tenant=tenant, document=plan_yaml(key="own"), effective_from="2026-01-01"
    )
    team_q = await publish_plan(
        tenant=tenant,
        document=plan_yaml(key="team", scope="team", period="quarter"),
        effective_from="2026-01-01",
    )
    await assign(user=org["ana"], plan=own, effective_from="2026-01-01")
    await assign(user=org["mia"], plan=own, effective_from="2026-01-01")  # self scope: no
    await assign(user=org["vp"], plan=team_q, effective_from="2026-01-01")
    people = {u.id: k for k, u in org.people.items()}
    [inbox_id] = await ingest(tenant, deal("e1"))

    result = await apply(tenant, inbox_id)

    assert names(result.affected, people) == {("ana", "2026-10"), ("vp", "2026-Q4")}


async def test_given_a_newer_version_stored_when_an_older_arrives_then_recorded_not_applied():
    tenant, _ = await monthly_world()
    newer, older, old_delete = await ingest(
        tenant,
        deal("e5", version=5, amount="500"),
        deal("e3", version=3, amount="300"),
        deletion("d4", "opp-1", 4),
    )
    await apply(tenant, newer)

    stale = await apply(tenant, older)
    stale_delete = await apply(tenant, old_delete)

    assert stale.status is InboxStatus.STALE
    assert stale.affected == frozenset()
    assert stale.reason == "older than the stored version"
    assert stale_delete.status is InboxStatus.STALE
    stored = await Transaction.get(tenant_id=tenant.id, external_id="opp-1")
    assert (stored.amount, stored.version, stored.deleted) == (Decimal("500"), 5, False)


async def test_given_a_delete_of_an_unseen_record_when_an_older_upsert_follows_then_ignored():
    tenant, _ = await monthly_world()
    gone, late = await ingest(tenant, deletion("d9", "opp-9", 9), deal("e8", "opp-9", version=8))

    assert (await apply(tenant, gone)).status is InboxStatus.APPLIED
    assert (await apply(tenant, late)).status is InboxStatus.STALE
    assert not await Transaction.exists(tenant_id=tenant.id, external_id="opp-9")


async def test_given_a_delete_when_applied_then_marked_deleted_and_its_period_affected():
    tenant, people = await monthly_world()
    upsert, gone = await ingest(tenant, deal("e1", version=1), deletion("d2", "opp-1", 2))
    await apply(tenant, upsert)

    result = await apply(tenant, gone)

    assert names(result.affected, people) == {("ana", "2026-10")}
    assert (await Transaction.get(tenant_id=tenant.id, external_id="opp-1")).deleted


async def test_given_an_applied_event_when_applied_again_then_nothing_changes():
    tenant, _ = await monthly_world()
    [inbox_id] = await ingest(tenant, deal("e1"))
    await apply(tenant, inbox_id)
    await RecomputeRequest.filter(tenant_id=tenant.id).delete()

    again = await apply(tenant, inbox_id)

    assert again.affected == frozenset()
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0


async def test_given_a_new_rep_and_their_deal_when_the_deal_applies_first_then_the_rep_too():
    tenant, _ = await monthly_world()
    rep_id, deal_id = await ingest(
        tenant,
        rep_event(
            "r1", "zed", name="Zed Zero", manager_id="ana", hire_date="2026-10-01", country="de"
        ),
        deal("e1", "opp-z", rep="zed"),
    )

    result = await apply(tenant, deal_id)
    rep_again = await apply(tenant, rep_id)

    assert result.status is InboxStatus.APPLIED
    assert rep_again.status is InboxStatus.APPLIED
    assert rep_again.affected == frozenset()
    zed = await User.get(tenant_id=tenant.id, external_id="zed")
    ana = await User.get(tenant_id=tenant.id, external_id="ana")
    assert (zed.display_name, zed.manager_id, zed.country, zed.role) == (
        "Zed Zero",
        ana.id,
        "DE",
        Role.REP,
    )
    assert (await Transaction.get(tenant_id=tenant.id, external_id="opp-z")).rep_id == zed.id


async def test_given_a_rep_update_when_applied_then_only_the_fields_sent_change():
    tenant, _ = await monthly_world()
    [inbox_id] = await ingest(tenant, rep_event("r1", "ana", email="ana@example.com"))

    await apply(tenant, inbox_id)

    ana = await User.get(tenant_id=tenant.id, external_id="ana")
    assert (ana.email, ana.display_name) == ("ana@example.com", "Ana")


async def test_given_a_rep_gone_before_apply_when_applied_then_dead_lettered_with_the_reason():
    tenant, _ = await monthly_world()
    temp = await make_user(tenant=tenant, external_id="tmp")
    [inbox_id] = await ingest(tenant, deal("e1", rep="tmp"))
    await temp.delete()

    result = await apply(tenant, inbox_id)

    assert result.status is InboxStatus.DEAD
    letter = await DeadLetter.get(tenant_id=tenant.id)
    assert (letter.event_id, letter.field, letter.reason) == (
        "e1",
        "data.rep_id",
        "data.rep_id: unknown rep 'tmp'",
    )


@pytest.mark.parametrize(
    ("stored", "sent", "field", "reason"),
    [
        (
            {"hire_date": date(2024, 7, 1)},
            {"end_date": "2024-01-01"},
            "data.end_date",
            "data.end_date: 2024-01-01 is before hire_date 2024-07-01",
        ),
        (
            {"end_date": date(2026, 10, 31)},
            {"hire_date": "2026-11-01"},
            "data.hire_date",
            "data.hire_date: 2026-11-01 is after end_date 2026-10-31",
        ),
    ],
)
async def test_given_one_employment_date_crossing_the_stored_other_then_dead_lettered_naming_it(
    stored: dict[str, Any], sent: dict[str, Any], field: str, reason: str
):
    tenant, _ = await monthly_world()
    await User.filter(tenant_id=tenant.id, external_id="ana").update(**stored)
    [inbox_id] = await ingest(tenant, rep_event("r1", "ana", **sent))

    result = await apply(tenant, inbox_id)

    assert result.status is InboxStatus.DEAD
    letter = await DeadLetter.get(tenant_id=tenant.id)
    assert (letter.event_id, letter.field, letter.reason) == ("r1", field, reason)
    ana = await User.get(tenant_id=tenant.id, external_id="ana")
    assert (ana.hire_date, ana.end_date) == (stored.get("hire_date"), stored.get("end_date"))


async def test_given_a_hire_date_moved_when_applied_then_every_month_between_is_affected():
    tenant, people = await monthly_world()
    await User.filter(tenant_id=tenant.id, external_id="ana").update(
        hire_date="2026-02-10", end_date="2026-12-31"
    )
    # hired in May instead of February, leaving in August instead of December: no deals at
    # all, yet February to April lose their active days and September to December too
    [inbox_id] = await ingest(
        tenant,
        rep_event("r1", "ana", hire_date="2026-05-01", end_date="2026-08-15", version=2),
    )

    result = await apply(tenant, inbox_id)

    months = {p for who, p in names(result.affected, people) if who == "ana"}
    expected = {f"2026-{m:02}" for m in (2, 3, 4, 5, 8, 9, 10, 11, 12)}
    assert expected <= months
    today = datetime.now(ZoneInfo(tenant.time_zone)).strftime("%Y-%m")  # always recomputed
    assert not {"2026-06", "2026-07"} & months - {today}


def _letters(n: int, seed: int) -> str:
    """Text PostgreSQL's compression cannot shrink (it compresses a large index entry)."""
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters) for _ in range(n))


def _wide(n: int, seed: int) -> str:
    """``n`` characters of 4 bytes each in UTF-8, as incompressible."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x1F300, 0x1FAFF)) for _ in range(n))


def _number(seed: int) -> Decimal:
    return Decimal(random.Random(seed).randint(10**29, 10**30 - 1))


def _filled(record: str, kind: str, state: str, fields: dict[str, Any], more: int) -> Any:
    """A deal with these fields and a "fill" text making them ``more`` bytes over the limit
    (0: exactly at it), counted as domain.kit.documents counts them."""
    beside = sum(len(t.encode()) for t in (record, kind, state))
    size = 8 + sum(
        8 + len(k) + (len(v.encode()) if isinstance(v, str) else 16 + len(format(v, "f")))
        for k, v in fields.items()
    )
    room = MAX_INDEXED_BYTES - beside - size - (8 + len("fill"))
    event = deal(f"e{more}", record, fields={**fields, "fill": _letters(room + more, 99)})
    event["data"] |= {"type": kind, "state": state}
    return event


WIDE = (_wide(200, 1), _wide(100, 2), _wide(100, 3))  # the widest id, type and state: 1,600 bytes


@pytest.mark.parametrize(
    ("record", "kind", "state", "fields"),
    [
        (*WIDE, {}),
        (*WIDE, {_letters(8, i): _number(i) for i in range(12)}),
        ("opp-1", "deal", "won", {f"note{i}": _letters(1000, i) for i in range(2)}),
    ],
    ids=["widest id, type and state", "widest, with numbers", "usual id, long texts"],
)
async def test_given_fields_at_the_size_limit_when_applied_then_stored_and_one_more_refused(
    record: str, kind: str, state: str, fields: dict[str, Any]
):
    """A 3,000-letter description was accepted (202), then failed five times in the worker
    ("index row size 3112 exceeds btree version 4 maximum 2704 for index
    transactions_own_by_rep", which carries the fields beside the id, type and state): what
    the intake check accepts, PostgreSQL stores, incompressible as it may be."""
    tenant, _ = await monthly_world()

    [inbox_id] = await ingest(tenant, _filled(record, kind, state, fields, 0))
    result = await apply(tenant, inbox_id)
    async with in_transaction():
        over = await service.ingest_events(
            viewer=system_viewer(tenant),
            source="crm",
            events=[_filled(record, kind, state, fields, 1)],
        )

    assert result.status is InboxStatus.APPLIED, result.reason
    stored = await Transaction.get(tenant_id=tenant.id, external_id=record)
    assert stored.extra_fields.keys() == {*fields, "fill"}
    assert [r.error.split(": ")[0] for r in over.rejected] == ["data.fields"]


async def test_given_a_deal_stored_on_the_last_date_when_corrected_then_applied():
    """A deal dated 9999-12-31 before dates were bounded is stored as infinity (date.max):
    the event that corrects its date applies, and only the new date's period is requested
    (the old one is no period Podium accepts)."""
    tenant, people = await monthly_world()
    [first] = await ingest(tenant, deal("e1", version=1))
    await apply(tenant, first)
    await Transaction.filter(tenant_id=tenant.id, external_id="opp-1").update(date=date.max)
    assert (await Transaction.get(tenant_id=tenant.id, external_id="opp-1")).date == date.max
    [fix] = await ingest(tenant, deal("e2", on="2026-11-05", version=2))

    result = await apply(tenant, fix)

    assert result.status is InboxStatus.APPLIED, result.reason
    today = datetime.now(ZoneInfo(tenant.time_zone)).strftime("%Y-%m")
    assert names(result.affected, people) - {("ana", today)} == {("ana", "2026-11")}
    assert (await Transaction.get(tenant_id=tenant.id, external_id="opp-1")).date == date(
        2026, 11, 5
    )


@pytest.mark.parametrize(
    ("moved", "manager", "cycle"),
    [
        ("boss", "ana", "boss -> ana -> boss"),
        ("boss", "cleo", "boss -> cleo -> ana -> boss"),
        ("ana", "cleo", "ana -> cleo -> ana"),
    ],
)
async def test_given_a_manager_change_closing_a_cycle_when_applied_then_dead_lettered_naming_it(
    moved: str, manager: str, cycle: str
):
    """`rep.upserted {"id": "boss", "manager_id": "ana"}` when ana reports to boss was
    applied, and the hierarchy held a cycle (`podium import reps` refused the same)."""
    org = await make_org(
        tenant=await make_tenant(slug="acme"), managers={"boss": None, "ana": "boss", "cleo": "ana"}
    )
    [inbox_id] = await ingest(org.tenant, rep_event("r1", moved, manager_id=manager, name="New"))

    result = await apply(org.tenant, inbox_id)

    assert result.status is InboxStatus.DEAD
    letter = await DeadLetter.get(tenant_id=org.tenant.id)
    assert (letter.field, letter.reason) == (
        "data.manager_id",
        f"data.manager_id: manager cycle {cycle}",
    )
    people = await User.filter(tenant_id=org.tenant.id).order_by("external_id")
    assert [(p.external_id, p.manager_id, p.display_name) for p in people] == [
        ("ana", org["boss"].id, "Ana"),
        ("boss", None, "Boss"),
        ("cleo", org["ana"].id, "Cleo"),
    ]


async def test_given_a_manager_change_without_a_cycle_when_applied_then_applied():
    org = await make_org(
        tenant=await make_tenant(slug="acme"), managers={"boss": None, "ana": "boss", "cleo": "ana"}
    )
    [inbox_id] = await ingest(org.tenant, rep_event("r1", "cleo", manager_id="boss"))

    result = await apply(org.tenant, inbox_id)

    assert result.status is InboxStatus.APPLIED
    assert (await User.get(id=org["cleo"].id)).manager_id == org["boss"].id


async def test_given_two_concurrent_changes_closing_a_cycle_then_one_applied_one_refused(
    monkeypatch: pytest.MonkeyPatch,
):
    """Ana under boss and boss under cleo (who reports to ana), applied by two workers at
    once: neither waits for the other's event (neither names the other's rep), and each
    found no cycle in what the other had not committed yet. Manager changes take turns."""
    org = await make_org(
        tenant=await make_tenant(slug="acme"), managers={"boss": None, "ana": None, "cleo": "ana"}
    )
    [first, second] = await ingest(
        org.tenant,
        rep_event("r1", "ana", manager_id="boss"),
        rep_event("r2", "boss", manager_id="cleo"),
    )
    read = IngestRepository.chain_up

    async def slow_worker(self: IngestRepository, user_id: Any) -> Any:
        chain = await read(self, user_id)
        await asyncio.sleep(0.2)  # long enough for the other worker to read its chain too
        return chain

    monkeypatch.setattr(IngestRepository, "chain_up", slow_worker)

    results = await asyncio.gather(apply(org.tenant, first), apply(org.tenant, second))

    assert sorted(r.status.value for r in results) == ["applied", "dead"]
    managers = {u.external_id: u.manager_id for u in await User.filter(tenant_id=org.tenant.id)}
    assert None in managers.values()  # someone is still at the top: no cycle


async def _boss_and_ana() -> tuple[Any, dict[str, Any], int]:
    """Boss and ana at the top, and a CRM event putting boss under ana, not applied yet."""
    org = await make_org(
        tenant=await make_tenant(slug="acme"), managers={"boss": None, "ana": None}
    )
    [inbox_id] = await ingest(org.tenant, rep_event("r1", "boss", manager_id="ana"))
    return org.tenant, org.people, inbox_id


async def _refused_naming_the_field(tenant: Any, raced: Raced) -> None:
    assert raced.waited
    assert raced.error is None, raced
    assert raced.result.status is InboxStatus.DEAD
    letter = await DeadLetter.get(tenant_id=tenant.id)
    assert (letter.field, letter.reason) == (
        "data.manager_id",
        "data.manager_id: manager cycle boss -> ana -> boss",
    )
    people = await User.filter(tenant_id=tenant.id)
    names = {u.id: u.external_id for u in people}
    assert {u.external_id: names.get(u.manager_id) for u in people} == {"ana": "boss", "boss": None}


async def test_given_set_manager_held_open_when_a_rep_event_closes_a_cycle_then_waits_and_refused():
    """setManager (ana under boss) not committed yet, then the event of boss under ana: the
    event read the managers committed before it, found no cycle, and both were stored."""
    tenant, people, inbox_id = await _boss_and_ana()

    raced = await race(
        lambda: set_manager(
            viewer=system_viewer(tenant), user_id=people["ana"].id, manager_id=people["boss"].id
        ),
        lambda: apply(tenant, inbox_id),
    )

    await _refused_naming_the_field(tenant, raced)


async def test_given_an_import_held_open_when_a_rep_event_closes_a_cycle_then_waits_and_refused():
    tenant, _, inbox_id = await _boss_and_ana()

    raced = await race(
        lambda: import_reps(
            viewer=system_viewer(tenant),
            lines=["id,name,manager_id,hire_date,end_date\n", "ana,Ana,boss,,\n"],
        ),
        lambda: apply(tenant, inbox_id),
    )

    await _refused_naming_the_field(tenant, raced)
