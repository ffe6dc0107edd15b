"""The per-process cache of the tenant's gamification definitions (badges, levels, boards)
that the worker's after-recompute step reads."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain.kit.clock import utc_now
from gamification import definitions
from gamification.badges.models import BadgeDefinition
from gamification.badges.service import BADGE_RULES, create_badge
from gamification.definitions import DEFINITIONS_TTL, TenantCache
from gamification.leaderboards.service import BOARDS, create_leaderboard
from gamification.levels.rules import Level
from gamification.levels.service import LEVEL_MAPS, set_level_map
from tests.domain.builders import make_tenant, system_viewer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(definitions.time, "monotonic", clock)
    return clock


def counting_store(stored: dict[UUID, str]) -> tuple[TenantCache[str], list[UUID]]:
    reads: list[UUID] = []

    async def load(tenant_id: UUID) -> str:
        reads.append(tenant_id)
        return stored[tenant_id]

    return TenantCache(load, ttl=5.0), reads


async def test_given_a_definition_changed_then_it_is_seen_once_the_lifetime_is_over(clock: Clock):
    tenant = uuid4()
    stored = {tenant: "v1"}
    cache, reads = counting_store(stored)
    assert await cache.get(tenant) == "v1"
    stored[tenant] = "v2"
    clock.now += 4.9
    assert await cache.get(tenant) == "v1"  # within the lifetime: no read
    assert reads == [tenant]
    clock.now += 0.1
    assert await cache.get(tenant) == "v2"
    assert reads == [tenant, tenant]


async def test_given_two_tenants_then_each_reads_its_own(clock: Clock):
    acme, globex = uuid4(), uuid4()
    cache, reads = counting_store({acme: "acme's", globex: "globex's"})
    assert await cache.get(acme) == "acme's"
    assert await cache.get(globex) == "globex's"  # never acme's cached value
    assert await cache.get(acme) == "acme's"
    assert reads == [acme, globex]
    cache.forget(acme)
    assert await cache.get(globex) == "globex's"
    assert await cache.get(acme) == "acme's"
    assert reads == [acme, globex, acme]


async def test_given_a_badge_defined_by_another_process_then_the_step_sees_it_after_the_lifetime(
    db: str, clock: Clock
):
    acme = await make_tenant(slug="defs-acme")
    globex = await make_tenant(slug="defs-globex")
    await create_badge(viewer=system_viewer(acme), name="First deal", rule="deals >= 1")
    assert [b.name for b in (await BADGE_RULES.get(acme.id)).badges] == ["First deal"]
    assert (await BADGE_RULES.get(globex.id)).badges == ()  # never acme's
    # as the API process writes it: this process's cache is not told
    await BadgeDefinition.create(
        id=uuid4(), tenant_id=acme.id, name="Closer", rule="deals >= 2", created_at=utc_now()
    )
    assert len((await BADGE_RULES.get(acme.id)).rules) == 1
    clock.now += DEFINITIONS_TTL
    seen = await BADGE_RULES.get(acme.id)
    assert sorted(b.name for b, _ in seen.rules) == ["Closer", "First deal"]
    assert (await BADGE_RULES.get(globex.id)).badges == ()


async def test_given_this_process_changes_a_definition_then_it_is_seen_at_once(
    db: str, clock: Clock
):
    tenant = await make_tenant(slug="defs-now")
    assert await LEVEL_MAPS.get(tenant.id) == ()
    assert await BOARDS.get(tenant.id) == ()
    levels = [Level(1, "Rookie", 0), Level(2, "Closer", 50)]
    await set_level_map(viewer=system_viewer(tenant), levels=levels)
    assert await LEVEL_MAPS.get(tenant.id) == tuple(levels)
    board = await create_leaderboard(
        viewer=system_viewer(tenant), name="Earnings", metric="earnings", period_kind="month"
    )
    assert [b.id for b in await BOARDS.get(tenant.id)] == [board.id]
