"""Contests against real PostgreSQL: launch validation (nothing stored), scores inside the
window, the lifecycle, the award with its rewards, badges, XP and audit, and the claw-back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.audit.models import AuditEntry
from domain.earnings.service import recompute_rep_period
from domain.org.models import Role
from domain.rewards.models import Reward
from gamification.badges.service import create_badge
from gamification.contests import service
from gamification.contests.errors import ContestError
from gamification.contests.models import Contest, ContestStatus
from gamification.levels.models import XpEntry
from tests.domain.builders import (
    assign,
    make_org,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
    viewer_of,
)
from tests.domain.notifications.plans import AE_PLAN

pytestmark = pytest.mark.usefixtures("db")

NOW = datetime(2026, 10, 1, 8, tzinfo=UTC)
START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 20, tzinfo=UTC)


class Recorder:
    def __init__(self, result: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self.result = result

    async def __call__(self, **kw: Any) -> Any:
        self.calls.append(kw)
        return self.result


async def _org():
    tenant = await make_tenant()
    org = await make_org(
        tenant=tenant,
        managers={"boss": None, "mgr": "boss", "ann": "mgr", "bob": "mgr", "cy": "boss"},
    )
    return tenant, org


async def _launch(viewer, **kw):
    args = {
        "name": "October push",
        "metric": "deal_amount",
        "starts_at": START,
        "ends_at": END,
        "prizes": [{"rank": 1, "description": "first", "amount": "100.00", "currency": "EUR"}],
        "now": NOW,
    }
    args.update(kw)
    return await service.launch_contest(viewer=viewer, **args)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"metric": "speed"}, "metric"),
        ({"metric": "measure:"}, "metric"),
        ({"metric": "measure:bookings"}, "metric"),  # the tenant has no plan with it
        ({"ends_at": START - timedelta(days=1)}, "endsAt"),
        ({"starts_at": NOW - timedelta(days=9), "ends_at": NOW - timedelta(days=1)}, "endsAt"),
        (
            {
                "prizes": [
                    {"rank": 1, "description": "a", "amount": "1"},
                    {"rank": 1, "description": "b", "amount": "2"},
                ]
            },
            "prizes",
        ),
        (
            {"prizes": [{"rank": 1, "description": "a", "amount": "1", "currency": "USD"}]},
            "prizes[0].currency",
        ),
        ({"prizes": [{"rank": 1, "description": "a", "amount": "1.001"}]}, "prizes[0].amount"),
        ({"format": "race"}, "target"),
        # a reward's reason holds 500 characters: a longer description was stored, and then
        # every award of the contest failed writing the prize (tried again at every tick)
        (
            {"prizes": [{"rank": 1, "description": "x" * 201, "amount": "1"}]},
            "prizes[0].description",
        ),
        (
            {"prizes": [{"rank": 1, "description": "first\nplace", "amount": "1"}]},
            "prizes[0].description",
        ),
    ],
)
async def test_given_bad_input_when_launching_then_a_field_error_and_nothing_stored(
    overrides, field
):
    tenant, org = await _org()
    with pytest.raises(ContestError) as caught:
        await _launch(viewer_of(org["mgr"]), **overrides)
    assert caught.value.field == field
    assert await Contest.all().count() == 0
    assert await AuditEntry.filter(action="contest.launched").count() == 0


async def test_given_a_badge_prize_of_no_badge_of_the_tenant_then_refused_naming_it():
    # an unknown badge id (or another tenant's) was stored, and the award of the contest
    # then failed in the cron's one transaction: no contest of any tenant moved again
    tenant, org = await _org()
    other = await make_tenant(slug="other")
    theirs = await create_badge(viewer=system_viewer(other), name="Theirs", rule="")
    for badge in (uuid4(), theirs.id):
        with pytest.raises(ContestError) as caught:
            await _launch(
                viewer_of(org["mgr"]),
                prizes=[
                    {"rank": 1, "description": "first", "amount": "100.00"},
                    {"rank": 2, "description": "second", "badge_id": str(badge)},
                ],
            )
        assert caught.value.field == "prizes[1].badgeId"
    assert await Contest.all().count() == 0
    ours = await create_badge(viewer=system_viewer(tenant), name="Ours", rule="")
    contest = await _launch(
        viewer_of(org["mgr"]), prizes=[{"rank": 1, "description": "b", "badge_id": str(ours.id)}]
    )
    assert contest.prizes[0]["badge_id"] == str(ours.id)


async def test_given_a_participant_outside_the_subtree_then_refused():
    _, org = await _org()
    with pytest.raises(ContestError) as caught:
        await _launch(viewer_of(org["mgr"]), rep_ids=[org["ann"].id, org["cy"].id])
    assert caught.value.field == "repIds[1]"
    assert await Contest.all().count() == 0
    # an admin may pick anyone
    contest = await _launch(system_viewer(org.tenant), rep_ids=[org["ann"].id, org["cy"].id])
    assert contest.participant_ids == [str(org["ann"].id), str(org["cy"].id)]


async def test_given_a_manager_then_the_subtree_takes_part():
    _, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]))
    assert set(contest.participant_ids) == {str(org["ann"].id), str(org["bob"].id)}
    assert contest.status == ContestStatus.SCHEDULED
    assert contest.manager_id == org["mgr"].id


async def test_only_transactions_dated_inside_the_window_count():
    _, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]))
    await make_transaction(rep=org["ann"], external_id="in", amount="10", on="2026-10-05")
    await make_transaction(rep=org["ann"], external_id="last", amount="1", on="2026-10-19")
    await make_transaction(rep=org["ann"], external_id="before", amount="99", on="2026-10-04")
    await make_transaction(rep=org["ann"], external_id="after", amount="99", on="2026-10-20")
    await make_transaction(rep=org["bob"], external_id="b", amount="11", on="2026-10-10")
    placed = await service.standings(contest)
    assert [(p.key, p.score) for p in placed] == [
        (str(org["ann"].id), Decimal(11)),
        (str(org["bob"].id), Decimal(11)),
    ]
    assert placed[0].rank == placed[1].rank == 1  # share: a tie


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        # October in Berlin: 30 September 22:00 UTC to 31 October 23:00 UTC
        ("Europe/Berlin", "2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00"),
        # October in Chicago: 1 October 05:00 UTC to 1 November 05:00 UTC
        ("America/Chicago", "2026-10-01T00:00:00-05:00", "2026-11-01T00:00:00-05:00"),
    ],
)
async def test_given_a_window_of_local_days_then_the_deals_of_those_days_count(zone, start, end):
    # a deal's date is a day of the tenant's calendar: a window from midnight to midnight in
    # the tenant's zone counts the deals dated 1 to 31 October, not 30 September (Berlin,
    # where the window starts on 30 September in UTC) nor 1 November (Chicago)
    tenant, org = await _org()
    tenant.time_zone = zone
    await tenant.save()
    contest = await _launch(
        viewer_of(org["mgr"]),
        starts_at=datetime.fromisoformat(start),
        ends_at=datetime.fromisoformat(end),
    )
    for external_id, amount, on in (
        ("sep30", "1000", "2026-09-30"), ("oct1", "1", "2026-10-01"),
        ("oct31", "2", "2026-10-31"), ("nov1", "1000", "2026-11-01"),
    ):  # fmt: skip
        await make_transaction(rep=org["ann"], external_id=external_id, amount=amount, on=on)
    await _deals_recomputed(org)  # ann's October: 1000 + 200 + 5000, and 1 + 2 above
    for period in ("2026-09", "2026-11"):
        await set_quota(user=org["ann"], period=period, value="10000")
        await recompute_rep_period(
            viewer=system_viewer(org.tenant), user_id=org["ann"].id, period=period
        )

    for metric, expected in (
        ("deal_amount", Decimal(6203)), ("deal_count", Decimal(5)),
        ("measure:bookings", Decimal(6203)),
    ):  # fmt: skip
        contest.metric = metric
        scores = {p.key: p.score for p in await service.standings(contest)}
        assert scores[str(org["ann"].id)] == expected, metric


async def test_given_a_window_ending_at_local_midnight_then_prizes_paid_in_its_last_month():
    # October in Berlin ends at 1 November 00:00 (31 October 23:00 UTC): the prizes of an
    # October contest belong to October, not to November (they were paid in November, and
    # its notifications said October: the month of the end in UTC)
    tenant, org = await _org()
    tenant.time_zone = "Europe/Berlin"
    await tenant.save()
    contest = await _launch(
        viewer_of(org["mgr"]),
        starts_at=datetime.fromisoformat("2026-10-01T00:00:00+02:00"),
        ends_at=datetime.fromisoformat("2026-11-01T00:00:00+01:00"),
    )
    assert await service.prize_period(contest) == "2026-10"
    events = service.notification_events([(contest, "ended")], time_zone=tenant.time_zone)
    assert {e.period for e in events} == {"2026-10"}


async def _deals_recomputed(org: Any) -> None:
    """AE_PLAN (a tiered commission and a 1% spiff, both on bookings) for ann and bob, and
    their October deals: inside the window ann 1000 + 200, bob 1100; outside, ann 5000."""
    version = await publish_plan(tenant=org.tenant, document=AE_PLAN)
    for name in ("ann", "bob"):
        await assign(user=org[name], plan=version)
        await set_quota(user=org[name], value="10000")
    for rep, external_id, amount, on in (
        ("ann", "in", "1000", "2026-10-05"), ("ann", "last", "200", "2026-10-19"),
        ("ann", "before", "5000", "2026-10-04"), ("bob", "b", "1100", "2026-10-10"),
    ):  # fmt: skip
        await make_transaction(rep=org[rep], external_id=external_id, amount=amount, on=on)
    for name in ("ann", "bob"):
        await recompute_rep_period(
            viewer=system_viewer(org.tenant), user_id=org[name].id, period="2026-10"
        )


async def test_given_a_measure_metric_then_its_values_of_the_deals_inside_the_window():
    _, org = await _org()
    await _deals_recomputed(org)
    contest = await _launch(viewer_of(org["mgr"]), metric="measure:bookings")

    placed = await service.standings(contest)

    assert [(p.key, p.score) for p in placed] == [
        (str(org["ann"].id), Decimal(1200)),  # not her deal of the day before
        (str(org["bob"].id), Decimal(1100)),
    ]
    assert placed[0].reached_at is not None


async def test_given_earnings_then_the_per_deal_lines_of_the_deals_inside_the_window():
    _, org = await _org()
    await _deals_recomputed(org)
    contest = await _launch(viewer_of(org["mgr"]), metric="earnings")

    placed = await service.standings(contest)

    # the 1% spiff of each deal inside the window; the tiered commission, earned by the
    # month as a whole, is tied to no deal and does not count (the metric's documented rule)
    assert [(p.key, p.score) for p in placed] == [
        (str(org["ann"].id), Decimal("12.00")),
        (str(org["bob"].id), Decimal("11.00")),
    ]


async def test_given_a_measure_without_per_deal_lines_then_refused():
    tenant, org = await _org()
    document = AE_PLAN.split("  - id: spiff")[0]  # the tiered commission alone
    await publish_plan(tenant=tenant, document=document)
    with pytest.raises(ContestError) as caught:
        await _launch(viewer_of(org["mgr"]), metric="measure:bookings")
    assert caught.value.field == "metric"
    assert "per-deal lines" in caught.value.message
    assert await Contest.all().count() == 0


async def test_given_xp_then_the_xp_written_inside_the_window_that_stands():
    tenant, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]), metric="xp")
    for name, source, points, day in (
        ("ann", "badge:a", 30, 6), ("bob", "badge:b", 50, 7), ("bob", "late", 40, 25),
        ("ann", "deal:x", 100, 8), ("ann", "deal:x:reversed", -100, 30),
    ):  # fmt: skip
        await XpEntry.create(
            tenant_id=tenant.id, user_id=org[name].id, source=source, points=points,
            reason="", created_at=datetime(2026, 10, day, 9, tzinfo=UTC),
        )  # fmt: skip

    placed = await service.standings(contest)

    # bob's late XP is after the window; ann's deal was reversed after it: it does not stand
    assert [(p.key, p.score, p.reached_at) for p in placed] == [
        (str(org["bob"].id), Decimal(50), datetime(2026, 10, 7, 9, tzinfo=UTC)),
        (str(org["ann"].id), Decimal(30), datetime(2026, 10, 6, 9, tzinfo=UTC)),
    ]


async def test_lifecycle_award_is_frozen_audited_and_idempotent_then_clawed_back():
    tenant, org = await _org()
    badge = (await create_badge(viewer=system_viewer(tenant), name="Silver", rule="")).id
    contest = await _launch(
        viewer_of(org["mgr"]),
        prizes=[
            {"rank": 1, "description": "first", "amount": "100.00"},
            {"rank": 2, "description": "second", "badge_id": str(badge)},
        ],
    )
    ann_deal = await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    await make_transaction(rep=org["bob"], external_id="b", amount="20", on="2026-10-07")
    badges, xp = Recorder(object()), Recorder(True)

    async def tick(at):
        return await service.tick(now=at, award_badge=badges, grant_xp=xp)

    assert [m for _, m in await tick(START)] == ["started"]
    assert [m for _, m in await tick(END)] == ["ended"]
    assert await tick(END + timedelta(minutes=29)) == []  # the grace period
    assert [m for _, m in await tick(END + timedelta(minutes=30))] == ["won"]
    await contest.refresh_from_db()
    assert contest.status == ContestStatus.AWARDED
    assert contest.results["winners"][0]["key"] == str(org["ann"].id)
    rewards = await Reward.filter(source_kind="contest_prize")
    assert [(r.user_id, r.amount, r.currency, r.period) for r in rewards] == [
        (org["ann"].id, Decimal("100.00"), "EUR", "2026-10")
    ]
    assert badges.calls == [
        {
            "tenant_id": tenant.id,
            "user_id": org["bob"].id,
            "badge_id": badge,
            "period": "2026-10",
            "source": f"contest:{contest.id}:rank:2",
        }
    ]
    assert {c["user_id"] for c in xp.calls} == {org["ann"].id, org["bob"].id}
    assert await AuditEntry.filter(action="contest.awarded").count() == 1
    assert await AuditEntry.filter(action="reward.granted").count() == 1
    assert await tick(END + timedelta(hours=1)) == []  # awarded once

    # a reversal after the award: the result stands, the money is clawed back once
    ann_deal.deleted = True
    await ann_deal.save()
    made = await service.claw_back_after_reversal(contest=contest)
    assert [(r.user_id, r.amount) for r in made] == [(org["ann"].id, Decimal("-100.00"))]
    assert await service.claw_back_after_reversal(contest=contest) == []
    await contest.refresh_from_db()
    assert contest.results["winners"][0]["key"] == str(org["ann"].id)


async def test_given_nobody_scored_then_nobody_wins_or_places():
    # ann sold inside the window, bob nothing: bob is listed at 0 but wins no prize, no XP
    # for a place and no contest_place badge (before, with nobody selling, everyone tied
    # at 0 split the money of every prize rank)
    _, org = await _org()
    contest = await _launch(
        viewer_of(org["mgr"]),
        prizes=[
            {"rank": 1, "description": "first", "amount": "100.00"},
            {"rank": 2, "description": "second", "amount": "60.00"},
        ],
    )
    await make_transaction(rep=org["ann"], external_id="a", amount="5", on="2026-10-06")
    xp, places = Recorder(True), Recorder([])
    for at in (START, END, END + timedelta(hours=1)):
        await service.tick(now=at, award_badge=Recorder(None), grant_xp=xp, award_places=places)
    await contest.refresh_from_db()
    assert contest.status == ContestStatus.AWARDED
    assert [(s["key"], s["rank"]) for s in contest.results["standings"]] == [
        (str(org["ann"].id), 1), (str(org["bob"].id), 2),
    ]  # fmt: skip
    assert [w["key"] for w in contest.results["winners"]] == [str(org["ann"].id)]
    assert [(r.user_id, r.amount) for r in await Reward.all()] == [
        (org["ann"].id, Decimal("100.00"))
    ]
    assert [c["user_id"] for c in xp.calls] == [org["ann"].id]
    assert places.calls[0]["places"] == [(org["ann"].id, 1)]


async def test_given_the_tenant_keeps_prizes_then_no_claw_back():
    tenant, org = await _org()
    tenant.settings = {"contests": {"claw_back": False, "grace_minutes": 0}}
    await tenant.save()
    contest = await _launch(viewer_of(org["mgr"]))
    deal = await make_transaction(rep=org["ann"], external_id="a", amount="5", on="2026-10-06")
    for at in (START, END, END):
        await service.tick(
            now=at,
            award_badge=Recorder(None),
            grant_xp=Recorder(True),
        )
    await contest.refresh_from_db()
    assert contest.status == ContestStatus.AWARDED
    deal.deleted = True
    await deal.save()
    assert await service.claw_back_after_reversal(contest=contest) == []
    assert await Reward.filter(amount__lt=0).count() == 0


async def test_race_records_the_exact_reached_at():
    _, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]), format="race", target=Decimal(10))
    await make_transaction(rep=org["bob"], external_id="b1", amount="12", on="2026-10-06")
    first = await make_transaction(rep=org["ann"], external_id="a1", amount="10", on="2026-10-07")
    placed = await service.standings(contest)
    assert [p.key for p in placed] == [str(org["bob"].id), str(org["ann"].id)]
    assert placed[1].reached_at == first.created_at
    assert isinstance(UUID(placed[0].key), UUID)


async def test_given_a_late_deal_of_someone_else_after_the_award_then_no_claw_back():
    _, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]))
    await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    for at in (START, END, END + timedelta(hours=1)):
        await service.tick(now=at, award_badge=Recorder(None), grant_xp=Recorder(True))
    await contest.refresh_from_db()
    assert contest.status == ContestStatus.AWARDED
    await make_transaction(rep=org["bob"], external_id="late", amount="90", on="2026-10-08")
    assert await service.claw_back_after_reversal(contest=contest) == []
    assert await Reward.filter(amount__lt=0).count() == 0


async def test_given_a_hidden_contest_then_only_its_manager_sees_it():
    tenant, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]), hidden=True)
    assert [c.id for c in await service.visible_contests(viewer=viewer_of(org["mgr"]))] == [
        contest.id
    ]
    for other in ("ann", "boss", "cy"):
        assert await service.visible_contests(viewer=viewer_of(org[other])) == []
    assert await service.visible_contests(viewer=system_viewer(tenant)) == []
    assert (
        await service.visible_contest(viewer=viewer_of(org["ann"]), contest_id=str(contest.id))
        is None
    )
    # hidden contests tell nobody
    assert service.notification_events([(contest, "started")]) == []


async def test_given_a_hidden_contest_when_awarded_then_it_pays_and_grants_nothing():
    # a test-mode contest (its launcher alone sees it) wrote real money prizes onto the
    # winners' statements, XP and place badges, for a contest the winner cannot see
    _, org = await _org()
    contest = await _launch(viewer_of(org["mgr"]), hidden=True)
    deal = await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    xp, badges, places = Recorder(True), Recorder(object()), Recorder([])
    for at in (START, END, END + timedelta(hours=1)):
        await service.tick(now=at, award_badge=badges, grant_xp=xp, award_places=places)
    await contest.refresh_from_db()
    assert contest.status == ContestStatus.AWARDED
    assert [w["key"] for w in contest.results["winners"]] == [str(org["ann"].id)]  # shown
    assert await Reward.all().count() == 0
    assert xp.calls == badges.calls == places.calls == []
    deal.deleted = True
    await deal.save()
    assert await service.awarded_money_to(tenant_id=org.tenant.id, user_ids=[org["ann"].id]) == []
    assert await service.claw_back_after_reversal(contest=contest) == []
    assert await Reward.all().count() == 0


async def test_given_a_manager_then_contests_outside_the_subtree_are_not_seen():
    tenant, org = await _org()
    contest = await _launch(system_viewer(tenant), rep_ids=[org["cy"].id])
    assert await service.visible_contests(viewer=viewer_of(org["mgr"])) == []
    assert [c.id for c in await service.visible_contests(viewer=viewer_of(org["boss"]))] == [
        contest.id
    ]
    assert [c.id for c in await service.visible_contests(viewer=viewer_of(org["cy"]))] == [
        contest.id
    ]


async def test_given_teams_then_the_winning_team_splits_its_prize_to_the_cent():
    tenant, org = await _org()
    contest = await _launch(
        system_viewer(tenant),
        format="teams",
        rep_ids=[org["ann"].id, org["bob"].id, org["mgr"].id],
        prizes=[{"rank": 1, "description": "team", "amount": "100.01"}],
    )
    await make_transaction(rep=org["ann"], external_id="a", amount="5", on="2026-10-06")
    await make_transaction(rep=org["bob"], external_id="b", amount="5", on="2026-10-06")
    await make_transaction(rep=org["mgr"], external_id="m", amount="9", on="2026-10-06")
    placed = await service.standings(contest)
    # ann and bob are mgr's team (10); mgr is boss's team (9)
    assert [(p.key, p.score) for p in placed] == [
        (str(org["mgr"].id), Decimal(10)),
        (str(org["boss"].id), Decimal(9)),
    ]
    won = await service.winners(contest, placed)
    assert sorted(w.amount for w in won) == [Decimal("50.00"), Decimal("50.01")]
    assert {w.key for w in won} == {str(org["ann"].id), str(org["bob"].id)}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starts_at": datetime.fromisoformat("2026-10-05T08:00:00")}, "startsAt"),
        ({"starts_at": datetime.fromisoformat("2026-10-05")}, "startsAt"),  # a bare date
        ({"ends_at": datetime.fromisoformat("2026-10-20T00:00:00")}, "endsAt"),
        (
            {
                "starts_at": datetime.fromisoformat("2026-10-05"),
                "ends_at": datetime.fromisoformat("2026-10-20"),
            },
            "startsAt",
        ),
    ],
)
async def test_given_a_time_without_a_utc_offset_when_launching_then_refused_naming_it(
    overrides, field
):
    # compared with the aware bounds it was a TypeError: INTERNAL_SERVER_ERROR
    tenant, org = await _org()
    with pytest.raises(ContestError) as caught:
        await _launch(viewer_of(org["mgr"]), **overrides)
    assert caught.value.field == field
    assert "no UTC offset: give one, e.g. 2030-01-04T08:00:00Z" in caught.value.message
    assert await Contest.all().count() == 0


async def test_given_a_start_far_in_the_past_when_launching_then_refused_naming_startsat():
    tenant, org = await _org()
    with pytest.raises(ContestError) as caught:
        await _launch(viewer_of(org["mgr"]), starts_at=datetime(1, 1, 1, tzinfo=UTC))
    assert caught.value.field == "startsAt"
    assert await Contest.all().count() == 0
    # backdated within the year is a contest counting the deals already made (the demo's)
    contest = await _launch(viewer_of(org["mgr"]), starts_at=NOW - timedelta(days=30))
    assert contest.starts_at == NOW - timedelta(days=30)


async def test_given_an_end_past_the_dates_podium_accepts_then_refused_naming_endsat():
    # its prizes would be paid in a period no later than 2199-12: an end after it is refused
    tenant, org = await _org()
    with pytest.raises(ContestError) as caught:
        await _launch(viewer_of(org["mgr"]), ends_at=datetime(9999, 12, 31, tzinfo=UTC))
    assert caught.value.field == "endsAt"
    assert "outside the dates" in caught.value.message
    assert await Contest.all().count() == 0


async def test_given_one_award_that_fails_then_the_others_are_awarded_and_it_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
):
    tenant, org = await _org()
    broken = await _launch(viewer_of(org["mgr"]), name="Broken")
    fine = await _launch(viewer_of(org["mgr"]), name="Fine")
    await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    real = service.award_contest

    async def failing(*, contest: Any, **kw: Any) -> Any:
        done = await real(contest=contest, **kw)
        if contest.name == "Broken":  # all of its work done, then a failure
            raise RuntimeError("a failure in one award")
        return done

    monkeypatch.setattr(service, "award_contest", failing)
    due = END + timedelta(hours=1)
    await service.tick(now=START, award_badge=None, grant_xp=None)
    await service.tick(now=END, award_badge=None, grant_xp=None)

    moved = await service.tick(now=due, award_badge=None, grant_xp=None)

    assert [(c.id, what) for c, what in moved] == [(fine.id, "won")]
    statuses = {c.name: c.status for c in await Contest.all()}
    assert statuses == {"Broken": ContestStatus.ENDED, "Fine": ContestStatus.AWARDED}
    assert await Reward.filter(source_kind="contest_prize").count() == 1  # the fine one's
    monkeypatch.setattr(service, "award_contest", real)
    again = await service.tick(now=due, award_badge=None, grant_xp=None)
    assert [(c.id, what) for c, what in again] == [(broken.id, "won")]


async def test_given_the_longest_name_and_prize_description_then_the_award_pays():
    tenant, org = await _org()
    contest = await _launch(
        viewer_of(org["mgr"]),
        name="N" * service.MAX_NAME,
        prizes=[{"rank": 1000, "description": "d" * service.MAX_DESCRIPTION, "amount": "1.00"},
                {"rank": 1, "description": "  first  ", "amount": "2.00"}],
    )  # fmt: skip
    await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")

    await service.award_contest(contest=contest, award_badge=None, grant_xp=None, period="2026-10")

    reward = await Reward.get(source_kind="contest_prize")
    assert reward.reason == f"{'N' * service.MAX_NAME}: rank 1 (first)"


async def test_given_an_admin_without_team_or_reps_then_every_rep_of_the_tenant_takes_part():
    # an admin manages nobody: the launcher's subtree was empty, and the contest refused as
    # having no participants, naming repIds
    tenant, org = await _org()
    admin = await make_user(tenant=tenant, external_id="ada", role=Role.ADMIN)

    contest = await _launch(viewer_of(admin))

    assert sorted(contest.participant_ids) == sorted(str(org[n].id) for n in ("ann", "bob", "cy"))
