"""The baseline of `bench/api.py`: the same data as the GraphQL queries, served as plain JSON.

It does everything the GraphQL path does except GraphQL itself: the same bearer-token
authentication, the same tenant-scoped repositories and the same shaping and money formatting
(`api.graphql.earnings.types`), so the ratio measures what parsing, validation and execution
of GraphQL cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth import AuthenticationError, Authenticator
from api.graphql.earnings.types import EarningsLine, earnings_of, quota_progress_of
from api.graphql.money import Money
from api.settings import Settings
from domain.db import close_db, init_db
from domain.earnings.repository import EarningsRepository
from domain.earnings.service import current_period
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant


def _money(m: Money) -> dict[str, str]:
    return {"amount": str(m.amount), "currency": m.currency, "formatted": m.formatted}


async def _viewer(request: Request) -> Viewer | JSONResponse:
    authenticator: Authenticator = request.app.state.authenticator
    try:
        viewer = await authenticator.viewer(request.headers.get("authorization"))
    except AuthenticationError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    if viewer is None:
        return JSONResponse({"error": "authentication required"}, status_code=401)
    return viewer


async def _earnings(viewer: Viewer, period: str | None) -> tuple[Any, Any]:
    assert viewer.user_id is not None
    tenant = await get_tenant(viewer.tenant_id)
    period_id = period or (await current_period(viewer)).id
    results = await EarningsRepository(viewer).results(viewer.user_id, period_id)
    earnings = earnings_of(
        viewer.user_id,
        period_id,
        results,
        default_currency=tenant.currency,
        locale=viewer.locale,
    )
    return earnings, results


async def home(request: Request) -> JSONResponse:
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    assert viewer.user_id is not None
    user = await UserRepository(viewer).get(viewer.user_id)
    earnings, results = await _earnings(viewer, request.query_params.get("period"))
    return JSONResponse(
        {
            "me": {
                "id": str(user.id),
                "displayName": user.display_name,
                "locale": viewer.locale,
                "currentPeriod": earnings.period,
                "earnings": {
                    "period": earnings.period,
                    "total": _money(earnings.total),
                    "payable": _money(earnings.payable),
                    "pending": _money(earnings.pending),
                    "updatedAt": earnings.updated_at.isoformat() if earnings.updated_at else None,
                    "components": [
                        {"id": c.id, "name": c.name, "amount": _money(c.amount)}
                        for c in earnings.components
                    ],
                },
                "quotaProgress": [
                    {
                        "measure": p.measure,
                        "name": p.name,
                        "total": str(p.total),
                        "quota": None if p.quota is None else str(p.quota),
                        "attainment": None if p.attainment is None else str(p.attainment),
                    }
                    for p in quota_progress_of(results)
                ],
            }
        }
    )


async def lines(request: Request) -> JSONResponse:
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    assert viewer.user_id is not None
    earnings, results = await _earnings(viewer, request.query_params.get("period"))
    first = int(request.query_params.get("first", "20"))
    rows, has_next = await EarningsRepository(viewer).lines(
        viewer.user_id, earnings.period, first=first, after=None
    )
    currencies = {r.id: r.currency for r in results}
    nodes = [
        EarningsLine.of(r, currencies.get(r.result_id, earnings.total.currency), viewer.locale)
        for r in rows
    ]
    return JSONResponse(
        {
            "edges": [
                {
                    "node": {
                        "id": n.id,
                        "component": n.component,
                        "transactionId": n.transaction_id,
                        "occurredAt": n.occurred_at.isoformat() if n.occurred_at else None,
                        "value": None if n.value is None else str(n.value),
                        "status": n.status.name,
                        "amount": _money(n.amount),
                        "explanation": n.explanation,
                    }
                }
                for n in nodes
            ],
            "pageInfo": {"hasNextPage": has_next, "endCursor": None},
        }
    )


def create_plain_app() -> Starlette:
    settings = Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await init_db(settings.database_url)
        app.state.authenticator = Authenticator(settings)
        try:
            yield
        finally:
            await close_db()

    return Starlette(
        routes=[Route("/plain/home", home), Route("/plain/lines", lines)], lifespan=lifespan
    )
