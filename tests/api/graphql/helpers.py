"""Data set-up through the domain services (as an admin or the system would), and a small
GraphQL client over real HTTP semantics (httpx on the ASGI app, lifespan included)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette

from api.auth import mint_token
from domain.crm.models import Transaction
from domain.earnings.service import recompute_rep_period
from domain.kit.periods import Period, period_containing
from domain.org.models import Role, User
from domain.org.service import create_user
from domain.org.viewer import Viewer
from domain.plans.models import PlanAssignment, PlanVersion
from domain.plans.service import assign_plan, publish_plan_version, set_quota
from domain.tenants.models import Tenant
from domain.tenants.service import create_tenant

AE_PLAN = textwrap.dedent(
    """\
    id: ae-emea
    name: Account Executive EMEA
    currency: EUR
    period: month
    measures:
      - id: bookings
        filter: "type == 'deal' and state == 'won'"
    components:
      - id: commission
        type: tiered
        measure: bookings
        basis: attainment
        method: marginal
        tiers:
          - {from: 0, rate: 0.02}
          - {from: 0.5, rate: 0.05}
          - {from: 1.0, rate: 0.08}
      - id: quota_club
        type: bonus
        measure: bookings
        steps:
          - {at: 1.0, amount: 1000}
          - {at: 1.25, amount: 2500}
      - id: spiff
        type: rate
        measure: bookings
        rate: 0.01
    """
)


def system(tenant: Tenant) -> Viewer:
    return Viewer.system(tenant.id, label="test")


def this_period(time_zone: str = "UTC") -> Period:
    return period_containing(datetime.now(ZoneInfo(time_zone)).date(), "month")


async def tenant(slug: str, *, currency: str = "EUR", locale: str = "en") -> Tenant:
    return await create_tenant(slug=slug, name=slug.title(), currency=currency, locale=locale)


async def person(
    t: Tenant,
    external_id: str,
    *,
    role: Role = Role.REP,
    manager: User | None = None,
    locale: str | None = None,
    firebase_uid: str | None = None,
) -> User:
    return await create_user(
        viewer=system(t),
        external_id=external_id,
        display_name=external_id.replace("-", " ").title(),
        role=role,
        manager_id=manager.id if manager else None,
        locale=locale,
        firebase_uid=firebase_uid,
    )


async def publish(t: Tenant, text: str = AE_PLAN, *, effective_from: date) -> PlanVersion:
    return await publish_plan_version(
        viewer=system(t), document=text, effective_from=effective_from
    )


async def assign(t: Tenant, version: PlanVersion, user: User, start: date) -> PlanAssignment:
    return await assign_plan(
        viewer=system(t), plan_id=version.plan_id, user_id=user.id, effective_from=start
    )


async def quota(t: Tenant, user: User, period: str, value: str, measure: str = "bookings") -> None:
    await set_quota(
        viewer=system(t), user_id=user.id, measure=measure, period=period, value=Decimal(value)
    )


async def deal(
    t: Tenant,
    user: User,
    external_id: str,
    amount: str,
    on: date,
    *,
    currency: str = "EUR",
    type: str = "deal",
    state: str = "won",
) -> Transaction:
    return await Transaction.create(
        tenant_id=t.id,
        external_id=external_id,
        rep_id=user.id,
        type=type,
        amount=Decimal(amount),
        currency=currency,
        date=on,
        state=state,
        credited_user_ids=[str(user.id)],
        extra_fields={},
    )


async def recompute(t: Tenant, user: User, period: str) -> None:
    await recompute_rep_period(viewer=system(t), user_id=user.id, period=period)


def token(t: Tenant, user: User, **kwargs: Any) -> str:
    return mint_token(t, user, **kwargs)


@dataclass
class Api:
    """A GraphQL client on the app; `as_(...)` picks whose token goes along."""

    http: httpx.AsyncClient
    bearer: str | None = None

    def as_(self, t: Tenant, user: User) -> Api:
        return Api(self.http, mint_token(t, user))

    def with_token(self, bearer: str | None) -> Api:
        return Api(self.http, bearer)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}

    async def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.http.post("/graphql", json=body, headers={**self.headers(), **headers})

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation:
            body["operationName"] = operation
        response = await self.post(body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, reached through httpx in this event loop."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podium.test") as client:
            yield client


def codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


def yesterday_of(day: date) -> date:
    return day - timedelta(days=1)
