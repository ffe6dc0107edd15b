"""Automatic persisted queries, as Apollo clients send them.

A client first sends only `extensions.persistedQuery = {version: 1, sha256Hash}`. Unknown
hashes answer `PersistedQueryNotFound`; the client then sends the query with the same
extension, the server checks that the hash is the query's sha256 and keeps the query in Redis
(with a TTL) so the next request can send the hash alone.

Only a signed-in person's documents are kept, and only up to `Limits.max_persisted_query_chars`
(the apps' operations are a few hundred characters): an anonymous or oversized registration
still runs, it is just not remembered, so nobody can fill Redis with documents for 30 days.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from api.settings import Limits
from domain.org.viewer import Viewer

KEY_PREFIX = "podium:apq:"
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
BAD_REQUEST = "BAD_REQUEST"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class PersistedQuery:
    query: str
    sha256: str
    store: bool  # the client sent the text: keep it once it proves valid


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def requested(extensions: dict[str, Any] | None) -> dict[str, Any] | None:
    found = (extensions or {}).get("persistedQuery")
    if found is None:
        return None
    if not isinstance(found, dict):
        raise PersistedQueryError(BAD_REQUEST, "extensions.persistedQuery must be an object", 400)
    return found


async def resolve(redis: Redis, query: str | None, extension: dict[str, Any]) -> PersistedQuery:
    """The query to run for a request carrying `extensions.persistedQuery`."""
    if extension.get("version") != 1:
        raise PersistedQueryError(NOT_SUPPORTED, "Unsupported persisted query version", 400)
    digest = extension.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise PersistedQueryError(BAD_REQUEST, "sha256Hash must be 64 hexadecimal digits", 400)
    digest = digest.lower()
    if query is None:
        stored = await redis.get(KEY_PREFIX + digest)
        if stored is None:
            raise PersistedQueryError(NOT_FOUND, "PersistedQueryNotFound")
        text = stored.decode("utf-8") if isinstance(stored, bytes) else str(stored)
        return PersistedQuery(query=text, sha256=digest, store=False)
    if sha256_of(query) != digest:
        raise PersistedQueryError(BAD_REQUEST, "provided sha does not match query", 400)
    return PersistedQuery(query=query, sha256=digest, store=True)


def may_persist(viewer: Viewer | None, found: PersistedQuery, limits: Limits) -> bool:
    return viewer is not None and len(found.query) <= limits.max_persisted_query_chars


async def remember(redis: Redis, persisted: PersistedQuery, ttl: int) -> None:
    await redis.set(KEY_PREFIX + persisted.sha256, persisted.query, ex=ttl)
