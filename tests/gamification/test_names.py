"""Names people read: one that shows nothing (zero-width spaces, a bidirectional override)
is refused like an empty one, naming the field, and nothing is stored; and the level map."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.kit.errors import DomainError
from domain.kit.text import blank
from gamification.badges.models import BadgeDefinition
from gamification.badges.service import create_badge
from gamification.contests.models import Contest
from gamification.contests.service import launch_contest
from gamification.leaderboards.models import Leaderboard
from gamification.leaderboards.service import create_leaderboard
from gamification.levels.models import LevelDefinition, StreakDefinition
from gamification.levels.rules import Level
from gamification.levels.service import set_level_map
from gamification.levels.streaks import create_streak
from tests.domain.builders import make_org, make_tenant, system_viewer

INVISIBLE = ["\u200b", "\u200b\u200b \u200d", "\u202e", "\u2066\u2069", "\ufeff", "\u3164"]


@pytest.mark.parametrize("text", ["", "  ", *INVISIBLE])
def test_given_text_that_shows_nothing_then_blank(text: str) -> None:
    assert blank(text)


@pytest.mark.parametrize("text", ["a", "\u200bTop\u200b", "\u202eevil", "日本", "🏆"])
def test_given_text_that_shows_something_then_not_blank(text: str) -> None:
    assert not blank(text)


# a name is one line of every listing (`podium leaderboards list`, the apps): a newline
# forged a line of the listing, an escape sequence cleared the admin's terminal
CONTROL = ["Top\n3", "Evil\x1b[2J\x1b[31m", "tab\there", "c\rr", "\x7fdel", "next\x85line"]


@pytest.mark.parametrize("name", [*INVISIBLE, *CONTROL])
async def test_given_an_invisible_name_then_every_definition_refuses_it(db: str, name: str) -> None:
    tenant = await make_tenant(slug="names")
    org = await make_org(tenant=tenant, managers={"mgr": None, "ann": "mgr"})
    system = system_viewer(tenant)

    attempts = {
        "badge": create_badge(viewer=system, name=name, rule="deals >= 1"),
        "streak": create_streak(viewer=system, name=name, rule="deals >= 1", unit="period"),
        "board": create_leaderboard(
            viewer=system, name=name, metric="earnings", period_kind="month"
        ),
        "contest": launch_contest(
            viewer=system, name=name, metric="deal_count",
            starts_at=datetime(2030, 1, 4, 8, tzinfo=UTC),
            ends_at=datetime(2030, 1, 4, 18, tzinfo=UTC),
            prizes=[{"rank": 1, "description": "Lunch", "amount": "40.00"}],
            rep_ids=[org["ann"].id],
        ),
        "level": set_level_map(viewer=system, levels=[Level(1, name, 0)]),
    }  # fmt: skip
    for what, attempt in attempts.items():
        with pytest.raises(DomainError) as caught:
            await attempt
        expected = "levels[0]" if what == "level" else "name"
        assert caught.value.field == expected, what

    for model in (BadgeDefinition, StreakDefinition, Leaderboard, Contest, LevelDefinition):
        assert await model.filter(tenant_id=tenant.id).count() == 0


async def test_given_an_empty_level_map_then_refused_naming_levels_and_the_map_kept(
    db: str,
) -> None:
    tenant = await make_tenant(slug="levels-empty")
    system = system_viewer(tenant)
    await set_level_map(viewer=system, levels=[Level(1, "Rookie", 0)])

    with pytest.raises(DomainError) as caught:
        await set_level_map(viewer=system, levels=[])

    assert caught.value.field == "levels"
    assert await LevelDefinition.filter(tenant_id=tenant.id).count() == 1


@pytest.mark.parametrize("group", CONTROL)
async def test_given_a_group_with_a_control_character_then_refused(db: str, group: str) -> None:
    tenant = await make_tenant(slug="groups")
    org = await make_org(tenant=tenant, managers={"mgr": None, "ann": "mgr"})
    org["ann"].attributes = {"group": group}
    await org["ann"].save()
    with pytest.raises(DomainError) as caught:
        await create_leaderboard(
            viewer=system_viewer(tenant), name="Closers", metric="earnings",
            period_kind="month", group=group,
        )  # fmt: skip
    assert caught.value.field == "group"
    assert await Leaderboard.filter(tenant_id=tenant.id).count() == 0


async def test_given_concurrent_definitions_of_one_name_then_one_and_the_rest_refused(
    db: str,
) -> None:
    # a double-submitted createBadge, createStreak or createLeaderboard: every one passed
    # the 'exists already' check and all but one answered a 500 (the unique name's
    # IntegrityError)
    import asyncio

    from tortoise.transactions import in_transaction

    tenant = await make_tenant(slug="twice")
    system = system_viewer(tenant)
    makers = {
        BadgeDefinition: lambda: create_badge(viewer=system, name="Twice", rule="deals >= 1"),
        StreakDefinition: lambda: create_streak(
            viewer=system, name="Twice", rule="deals >= 1", unit="period"
        ),
        Leaderboard: lambda: create_leaderboard(
            viewer=system, name="Twice", metric="earnings", period_kind="month"
        ),
    }

    async def once(make):
        try:
            async with in_transaction():
                return await make()
        except DomainError as exc:
            return exc

    for model, make in makers.items():
        outcomes = await asyncio.gather(*(once(make) for _ in range(6)))
        refused = [o for o in outcomes if isinstance(o, DomainError)]
        assert [o.field for o in refused] == ["name"] * 5, model
        assert await model.filter(tenant_id=tenant.id).count() == 1


async def test_given_a_name_that_reads_like_an_existing_one_then_refused_as_a_duplicate(
    db: str,
) -> None:
    # "Café" typed on a Mac (e + U+0301) and on Windows (é), or "Closer " with a trailing
    # space from a pasted cell, read the same in every listing: a badge, a streak and a board
    # of each were stored, two definitions an admin cannot tell apart (which to edit? which
    # one did the rep earn?)
    import unicodedata

    tenant = await make_tenant(slug="lookalike")
    system = system_viewer(tenant)
    composed = unicodedata.normalize("NFC", "Café")
    decomposed = unicodedata.normalize("NFD", "Café")
    assert composed != decomposed
    makers = {
        BadgeDefinition: lambda name: create_badge(viewer=system, name=name, rule="deals >= 1"),
        StreakDefinition: lambda name: create_streak(
            viewer=system, name=name, rule="deals >= 1", unit="period"
        ),
        Leaderboard: lambda name: create_leaderboard(
            viewer=system, name=name, metric="earnings", period_kind="month"
        ),
    }
    for model, make in makers.items():
        first = await make(decomposed)
        assert first.name == composed, model  # stored in one form (NFC)
        for twin in (composed, f"{composed} ", f" {decomposed}"):
            with pytest.raises(DomainError) as caught:
                await make(twin)
            assert caught.value.field == "name", (model, twin)
        assert await model.filter(tenant_id=tenant.id).count() == 1, model
