"""The tenant's gamification definitions (badges, levels, leaderboards) as the worker's
after-recompute step reads them: kept per process and per tenant for ``DEFINITIONS_TTL``
seconds, instead of read by every batch (about eight a second per worker under a stream).

Definitions only: what a person has (XP, awards, results, a board's members) is read fresh
by every batch, so an award is never decided on stale per-person state. An admin's change of
a definition reaches a worker within ``DEFINITIONS_TTL`` (at once in the process that made
it: the services that write a definition call ``forget``)."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar
from uuid import UUID

from tortoise import connections

T = TypeVar("T")

# Five seconds: one read of each definition per tenant and worker every five seconds instead
# of about forty (at eight batches a second); a new badge, level map or board takes effect
# within that time, which an admin watching a live sales screen accepts (the worker reads its
# tenant as often: workers.tasks.earnings.TENANT_READ_SECONDS). Longer would save little more.
DEFINITIONS_TTL = 5.0
MAX_TENANTS = 1024  # a bound on each cache: past it, it starts again empty


class TenantCache(Generic[T]):
    """``load(tenant_id)``'s value, kept per tenant for ``ttl`` seconds (monotonic clock).
    Two batches that miss at once both read: the later value stays, both are current."""

    def __init__(self, load: Callable[[UUID], Awaitable[T]], ttl: float = DEFINITIONS_TTL):
        self._load = load
        self.ttl = ttl
        self._kept: dict[UUID, tuple[float, T]] = {}

    async def get(self, tenant_id: UUID) -> T:
        now = time.monotonic()
        kept = self._kept.get(tenant_id)
        if kept is not None and now < kept[0]:
            return kept[1]
        value = await self._load(tenant_id)
        if len(self._kept) >= MAX_TENANTS:
            self._kept.clear()
        self._kept[tenant_id] = (now + self.ttl, value)
        return value

    def forget(self, tenant_id: UUID | None = None) -> None:
        """The tenant's value (every tenant's with None) is read again at its next use."""
        if tenant_id is None:
            self._kept.clear()
        else:
            self._kept.pop(tenant_id, None)


async def lock_name(tenant_id: UUID, kind: str, name: str) -> None:
    """Until the transaction ends, whoever defines a ``kind`` (badge, streak, board) named
    ``name`` in the tenant waits for the others: the 'exists already' check then sees a
    double submit's first definition, rather than both inserting (a unique name's error)."""
    await connections.get("default").execute_query(
        "SELECT pg_advisory_xact_lock(hashtext($1 || ':' || $2::text || ':' || $3))",
        [kind, str(tenant_id), name],
    )


def definition_name(name: str) -> str:
    """A badge's, streak's, board's or contest's name as it is stored and compared: without
    surrounding spaces and in Unicode's composed form (NFC), so that names reading the same
    are one name ("Café" typed as e + U+0301 on one keyboard and as é on another, "Closer "
    pasted from a cell)."""
    return unicodedata.normalize("NFC", name.strip())
