"""Hostile input on the gamification mutations: a NUL byte, a year 0, huge numbers, deep
nesting. Each is a named error (a UserError or a BAD_USER_INPUT), never a 500, and nothing is
stored."""

from __future__ import annotations

from typing import Any

import pytest

from domain.org.models import Role, User
from gamification.badges.models import BadgeDefinition
from gamification.contests.models import Contest
from gamification.leaderboards.models import Leaderboard
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

CREATE_BOARD = """mutation($input: CreateLeaderboardInput!) { createLeaderboard(input: $input) {
  __typename ... on UserError { code field } } }"""
CREATE_BADGE = """mutation($input: CreateBadgeInput!) { createBadge(input: $input) {
  __typename ... on UserError { code field } } }"""
LAUNCH = """mutation($input: LaunchContestInput!) { launchContest(input: $input) {
  __typename ... on UserError { code field } } }"""


async def refusal(api: Api, query: str, value: dict[str, Any]) -> str:
    """What names the refusal: a UserError's field, or the message of a request error (the
    body's NUL check: 400 BAD_USER_INPUT; a variable the schema's scalars refuse: 200 with
    an error naming the input's path). Never a 500 or an INTERNAL error."""
    response = await api.post({"query": query, "variables": {"input": value}})
    assert response.status_code in (200, 400), response.text
    result = response.json()
    for found in (result.get("data") or {}).values():
        if found and found.get("__typename") == "UserError":
            return str(found["field"])
    errors = result["errors"]
    assert all(e.get("extensions", {}).get("code") != "INTERNAL" for e in errors), result
    if response.status_code == 400:
        assert h.codes(result) == ["BAD_USER_INPUT"], result
    return str(errors[0]["message"])


async def admin_of_acme() -> tuple[Any, Any]:
    t = await h.tenant("acme")
    admin = await h.person(t, "ada", role=Role.ADMIN)
    await h.person(t, "ana")
    await h.publish(t, effective_from=h.this_period().start)
    return t, admin


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a\x00b"},
        {"metric": "bookings\x00"},
        {"periodKind": "\x00"},
        {"name": "x" * 100_000},
        {"metric": "[" * 10_000},
    ],
)
async def test_given_a_hostile_board_then_refused_by_name(api: Api, fields: dict[str, Any]):
    t, admin = await admin_of_acme()
    board = {"name": "Board", "metric": "bookings", "periodKind": "month", **fields}

    said = await refusal(api.as_(t, admin), CREATE_BOARD, board)

    assert said in ("name", "metric", "periodKind") or "input" in said
    assert await Leaderboard.all().count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a\x00b"},
        {"rule": "deals >= 1\x00"},
        {"rule": "(" * 5_000 + "1" + ")" * 5_000},
        {"rule": "deals >= " + "9" * 5_000},
        {"xp": 2**31 - 1},
        {"xp": -1},
    ],
)
async def test_given_a_hostile_badge_then_refused_by_name(api: Api, fields: dict[str, Any]):
    t, admin = await admin_of_acme()
    badge = {"name": "Badge", "rule": "deals >= 1", **fields}

    said = await refusal(api.as_(t, admin), CREATE_BADGE, badge)

    assert said in ("name", "rule", "xp") or "input" in said
    assert await BadgeDefinition.all().count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a\x00b"},
        {"startsAt": "0000-01-01T00:00:00Z"},
        {"name": "x" * 101},
        {"prizes": [{"description": "p", "rank": 1, "amount": "1" + "0" * 40, "currency": "EUR"}]},
        {"prizes": [{"description": "p", "rank": 10**9, "amount": "100", "currency": "EUR"}]},
        {"prizes": [{"description": "p", "rank": 1, "amount": "NaN", "currency": "EUR"}]},
        {"target": "1e999999", "format": "RACE"},
        {"target": "1" + "0" * 30, "format": "RACE"},
    ],
)
async def test_given_a_hostile_contest_then_refused_by_name(api: Api, fields: dict[str, Any]):
    t, admin = await admin_of_acme()
    ana = await User.get(tenant_id=t.id, external_id="ana")
    period = h.this_period()
    contest = {
        "repIds": [str(ana.id)],
        "name": "Sprint",
        "metric": "deal_count",
        "startsAt": f"{period.end.isoformat()}T00:00:00Z",
        "endsAt": f"{period.end.isoformat()}T23:00:00Z",
        "prizes": [{"rank": 1, "description": "first", "amount": "100", "currency": "EUR"}],
        **fields,
    }

    said = await refusal(api.as_(t, admin), LAUNCH, contest)

    assert said.split("[")[0].split(".")[0] in (
        "name",
        "startsAt",
        "endsAt",
        "prizes",
        "target",
    ) or ("input" in said)
    assert await Contest.all().count() == 0


@pytest.mark.parametrize("first", [-1, -1000, 501])
async def test_given_a_contest_standings_page_out_of_range_then_refused_naming_first(
    api: Api, first: int
):
    # a board's entries(first: -1) and badges(first: -1) are refused; a contest's standings
    # answered [] for any negative page and cut any page above 500 without a word
    t, admin = await admin_of_acme()
    ana = await User.get(tenant_id=t.id, external_id="ana")
    period = h.this_period()
    launched = await api.as_(t, admin).gql(
        """mutation($input: LaunchContestInput!) { launchContest(input: $input) {
          __typename ... on Contest { id } } }""",
        {"input": {
            "repIds": [str(ana.id)], "name": "Sprint", "metric": "deal_count",
            "startsAt": f"{period.end.isoformat()}T00:00:00Z",
            "endsAt": f"{period.end.isoformat()}T23:00:00Z",
            "prizes": [{"rank": 1, "description": "first", "amount": "100", "currency": "EUR"}],
        }},
    )  # fmt: skip
    contest_id = launched["data"]["launchContest"]["id"]

    result = await api.as_(t, admin).gql(
        "query($id: ID!, $first: Int!) { contest(id: $id) { standings(first: $first) { rank } } }",
        {"id": contest_id, "first": first},
    )

    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in result["errors"]] == [
        ("BAD_USER_INPUT", "first")
    ]
