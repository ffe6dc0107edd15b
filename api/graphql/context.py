"""The per-request GraphQL context: who is asking, and DataLoaders that batch reads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from api.graphql.errors import unauthenticated
from api.graphql.live import LiveHub
from api.settings import Settings
from domain.earnings.models import EarningsResult
from domain.earnings.repository import EarningsRepository
from domain.earnings.service import current_period
from domain.kit.errors import NotFound
from domain.kit.periods import Period
from domain.org.models import User
from domain.org.repository import Card, UserRepository
from domain.org.viewer import Viewer
from domain.plans.models import PlanVersion
from domain.plans.repository import PlanRepository
from domain.targets import service as targets
from domain.targets.models import Target, TargetPlan
from domain.tenants.models import Tenant
from domain.tenants.repository import get_tenant
from payments.disputes.models import Dispute, DisputeComment
from payments.disputes.repository import DisputeRepository
from payments.draws.service import balances_of
from payments.invoices.models import Invoice
from payments.invoices.service import invoices_of_statements
from payments.statements.models import Statement, StatementLine
from payments.statements.repository import StatementRepository


class Loaders:
    """DataLoaders of one request for one viewer: every key goes through the viewer's
    tenant-scoped repositories."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer

    # each DataLoader is made the first time a resolver asks for it: a request reads a few

    @cached_property
    def results(self) -> DataLoader[tuple[UUID, str], list[EarningsResult]]:
        return DataLoader(self._load_results)

    @cached_property
    def plan_versions(self) -> DataLoader[tuple[UUID, date], PlanVersion | None]:
        return DataLoader(self._load_plan_versions)

    @cached_property
    def people(self) -> DataLoader[UUID, User]:
        return DataLoader(self._load_people)

    @cached_property
    def cards(self) -> DataLoader[tuple[UUID, ...], dict[UUID, Card]]:
        """Names and pictures of sets of people (`UserRepository.cards`), one statement for
        all the sets asked for at once; nobody of the tenant is left out. A set is one key
        (a page's people): one future each, not one per person."""
        return DataLoader(self._load_cards)

    @cached_property
    def target_children(self) -> DataLoader[UUID, list[Target]]:
        return DataLoader(self._load_target_children)

    @cached_property
    def target_plans(self) -> DataLoader[UUID, tuple[TargetPlan, dict[UUID, Decimal]]]:
        return DataLoader(self._load_target_plans)

    @cached_property
    def own_targets(self) -> DataLoader[UUID, Target | None]:
        return DataLoader(self._load_own_targets)

    # statements: a list of N statements reads each field in one batch, not N queries
    @cached_property
    def statement_lines(
        self,
    ) -> DataLoader[tuple[UUID, int, int], tuple[list[StatementLine], bool]]:
        return DataLoader(self._load_statement_lines)

    @cached_property
    def statement_versions(self) -> DataLoader[tuple[UUID, str, str], list[Statement]]:
        return DataLoader(self._load_statement_versions)

    @cached_property
    def statement_invoices(self) -> DataLoader[UUID, dict[str, Invoice]]:
        return DataLoader(self._load_statement_invoices)

    @cached_property
    def statement_disputes(
        self,
    ) -> DataLoader[UUID, list[tuple[Dispute, list[DisputeComment]]]]:
        return DataLoader(self._load_statement_disputes)

    @cached_property
    def draw_balances(self) -> DataLoader[tuple[UUID, str, str], Decimal | None]:
        return DataLoader(self._load_draw_balances)

    async def _load_results(self, keys: list[tuple[UUID, str]]) -> list[list[EarningsResult]]:
        by_period: dict[str, list[UUID]] = defaultdict(list)
        for user_id, period in keys:
            by_period[period].append(user_id)
        repo = EarningsRepository(self.viewer)
        found: dict[tuple[UUID, str], list[EarningsResult]] = defaultdict(list)
        for period, user_ids in by_period.items():
            for result in await repo.results_for_users(user_ids, period):
                found[(result.user_id, period)].append(result)
        return [sorted(found[k], key=lambda r: r.computed_at) for k in keys]

    async def _load_plan_versions(self, keys: list[tuple[UUID, date]]) -> list[PlanVersion | None]:
        repo = PlanRepository(self.viewer)
        out: list[PlanVersion | None] = []
        for plan_id, day in keys:
            version = await repo.version_on(plan_id, day)
            out.append(version or await repo.latest_version(plan_id))
        return out

    async def _load_people(self, keys: list[UUID]) -> list[User | NotFound]:
        found = await UserRepository(self.viewer).by_ids(keys)
        return [found.get(k) or NotFound(f"no user {k}", field="id") for k in keys]

    async def _load_cards(self, keys: list[tuple[UUID, ...]]) -> list[dict[UUID, Card]]:
        found = await UserRepository(self.viewer).cards(dict.fromkeys(i for k in keys for i in k))
        return [{i: found[i] for i in k if i in found} for k in keys]

    async def _load_target_children(self, keys: list[UUID]) -> list[list[Target]]:
        found = await targets.allocations_of(viewer=self.viewer, target_ids=keys)
        return [found.get(k, []) for k in keys]

    async def _load_target_plans(
        self, keys: list[UUID]
    ) -> list[tuple[TargetPlan, dict[UUID, Decimal]]]:
        found = await targets.plans_with_actuals(viewer=self.viewer, plan_ids=keys)
        return [found[k] for k in keys]

    async def _load_own_targets(self, keys: list[UUID]) -> list[Target | None]:
        found = await targets.own_targets(viewer=self.viewer, plan_ids=keys)
        return [found.get(k) for k in keys]

    async def _load_statement_lines(
        self, keys: list[tuple[UUID, int, int]]
    ) -> list[tuple[list[StatementLine], bool]]:
        """Keys: (statement id, page size, offset); one query per page asked for."""
        pages: dict[tuple[int, int], list[UUID]] = defaultdict(list)
        for statement_id, first, offset in keys:
            pages[(first, offset)].append(statement_id)
        repo = StatementRepository(self.viewer)
        found: dict[tuple[UUID, int, int], tuple[list[StatementLine], bool]] = {}
        for (first, offset), ids in pages.items():
            for statement_id, page in (
                await repo.lines_of(ids, first=first, offset=offset)
            ).items():
                found[(statement_id, first, offset)] = page
        return [found[k] for k in keys]

    async def _load_statement_versions(
        self, keys: list[tuple[UUID, str, str]]
    ) -> list[list[Statement]]:
        found = await StatementRepository(self.viewer).versions_of(keys)
        return [found[k] for k in keys]

    async def _load_statement_invoices(self, keys: list[UUID]) -> list[dict[str, Invoice]]:
        found = await invoices_of_statements(self.viewer, keys)
        return [found.get(k, {}) for k in keys]

    async def _load_statement_disputes(
        self, keys: list[UUID]
    ) -> list[list[tuple[Dispute, list[DisputeComment]]]]:
        repo = DisputeRepository(self.viewer)
        disputes = await repo.of_statements(keys)
        comments = await repo.comments_of([d.id for found in disputes.values() for d in found])
        return [[(d, comments[d.id]) for d in disputes[k]] for k in keys]

    async def _load_draw_balances(self, keys: list[tuple[UUID, str, str]]) -> list[Decimal | None]:
        found = await balances_of(self.viewer, keys)
        return [found[k] for k in keys]


@dataclass
class Context:
    request: Request
    response: Response | None
    settings: Settings
    redis: Redis | None
    request_id: str
    live: LiveHub | None = None  # the process's pub/sub fan-out (subscriptions)
    viewer_or_none: Viewer | None = None
    auth_error: str | None = None
    # graphql-transport-ws: the connection_init payload (strawberry sets it)
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def viewer(self) -> Viewer:
        """The authenticated viewer; an UNAUTHENTICATED error for fields that need one."""
        if self.viewer_or_none is None:
            raise unauthenticated(self.auth_error or "sign in: send Authorization: Bearer <token>")
        return self.viewer_or_none

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.viewer)
        return self._loaders

    @property
    def locale(self) -> str:
        return self.viewer.locale

    async def tenant(self) -> Tenant:
        if "tenant" not in self._cache:
            self._cache["tenant"] = await get_tenant(self.viewer.tenant_id)
        tenant: Tenant = self._cache["tenant"]
        return tenant

    async def current_period(self) -> Period:
        if "period" not in self._cache:
            self._cache["period"] = await current_period(self.viewer)
        period: Period = self._cache["period"]
        return period
