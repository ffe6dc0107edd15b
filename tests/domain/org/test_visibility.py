"""Who sees whom: a rep themselves, a manager their subtree (at any depth), admins and payout
ops their tenant, nobody another tenant, whatever ids they send."""

from __future__ import annotations

import pytest
from tortoise import connections

from domain.kit.errors import Forbidden, NotFound
from domain.org.models import Role
from domain.org.repository import UserRepository
from domain.org.team import team_of
from tests.domain.builders import Org, make_org, make_tenant, make_user, viewer_of

# vp -> director -> lead -> (ana, ben); vp -> other_lead -> cara; solo has no manager
HIERARCHY = {
    "vp": None,
    "director": "vp",
    "lead": "director",
    "ana": "lead",
    "ben": "lead",
    "other_lead": "vp",
    "cara": "other_lead",
    "solo": None,
}


async def _two_orgs() -> tuple[Org, Org]:
    acme = await make_org(tenant=await make_tenant(slug="acme"), managers=HIERARCHY)
    globex = await make_org(tenant=await make_tenant(slug="globex"), managers=HIERARCHY)
    for org in (acme, globex):
        org.people["admin"] = await make_user(
            tenant=org.tenant, external_id="admin", role=Role.ADMIN
        )
        org.people["ops"] = await make_user(
            tenant=org.tenant, external_id="ops", role=Role.PAYOUT_OPS
        )
    return acme, globex


def _names(org: Org, ids: list | None) -> set[str]:
    by_id = {u.id: name for name, u in org.people.items()}
    return {by_id[i] for i in ids or []}


async def test_given_rep_when_reading_people_then_only_themselves(db: str):
    acme, _ = await _two_orgs()
    repo = UserRepository(viewer_of(acme["ana"]))

    assert _names(acme, await repo.visible_ids()) == {"ana"}
    assert (await repo.visible(acme["ana"].id)).id == acme["ana"].id
    for colleague in ("ben", "lead", "cara", "admin"):
        with pytest.raises(Forbidden):
            await repo.visible(acme[colleague].id)


@pytest.mark.parametrize(
    ("manager", "sees"),
    [
        ("vp", {"vp", "director", "lead", "ana", "ben", "other_lead", "cara"}),
        ("director", {"director", "lead", "ana", "ben"}),
        ("lead", {"lead", "ana", "ben"}),
        ("other_lead", {"other_lead", "cara"}),
    ],
)
async def test_given_manager_when_reading_people_then_their_whole_subtree_only(
    db: str, manager: str, sees: set[str]
):
    acme, _ = await _two_orgs()
    repo = UserRepository(viewer_of(acme[manager]))

    assert _names(acme, await repo.visible_ids()) == sees
    for name, user in acme.people.items():
        if name in sees:
            assert (await repo.visible(str(user.id))).id == user.id
        else:
            with pytest.raises(Forbidden):
                await repo.visible(user.id)


async def test_given_three_level_manager_when_team_read_then_everyone_below_but_not_self(
    db: str,
):
    acme, _ = await _two_orgs()

    team = await team_of(viewer_of(acme["director"]))

    assert {u.external_id for u in team} == {"lead", "ana", "ben"}


@pytest.mark.parametrize("role", ["admin", "ops"])
async def test_given_admin_or_payout_ops_when_reading_people_then_whole_tenant(db: str, role: str):
    acme, _ = await _two_orgs()
    repo = UserRepository(viewer_of(acme[role]))

    assert await repo.visible_ids() is None
    for user in acme.people.values():
        assert (await repo.visible(user.id)).tenant_id == acme.tenant.id
    assert {u.external_id for u in await repo.all()} == set(acme.people)


@pytest.mark.parametrize("who", ["ana", "lead", "vp", "admin", "ops"])
async def test_given_anyone_when_sending_ids_of_another_tenant_then_not_found(db: str, who: str):
    acme, globex = await _two_orgs()
    repo = UserRepository(viewer_of(acme[who]))

    for foreign in globex.people.values():
        with pytest.raises(NotFound):
            await repo.get(foreign.id)
        with pytest.raises(NotFound):
            await repo.visible(foreign.id)
        with pytest.raises(NotFound):
            await repo.require_visible_id(foreign.id)
    assert await repo.by_ids([u.id for u in globex.people.values()]) == {}
    assert await repo.by_external_ids(["ana", "cara"]) == {
        "ana": acme["ana"],
        "cara": acme["cara"],
    }


async def test_given_manager_when_subtree_read_then_reports_of_another_tenant_never_included(
    db: str,
):
    acme, globex = await _two_orgs()
    # a row that no service would write: another tenant's person pointing at acme's lead
    await connections.get("default").execute_query(
        "UPDATE users SET manager_id = $1 WHERE id = $2", [acme["lead"].id, globex["cara"].id]
    )

    ids = await UserRepository(viewer_of(acme["lead"])).subtree_ids(acme["lead"].id)

    assert _names(acme, ids) == {"lead", "ana", "ben"}
    assert globex["cara"].id not in ids


async def test_given_rep_when_asking_for_a_team_then_forbidden(db: str):
    acme, _ = await _two_orgs()

    with pytest.raises(Forbidden):
        await team_of(viewer_of(acme["ana"]))
