"""Running `podium ...` in a fresh interpreter, as a user would, against this worker's
database (for the CLI tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str

    def one_line_error(self, *fragments: str) -> str:
        """Bad input: exit status 2, nothing on stdout, one line on stderr, no traceback."""
        assert self.returncode == 2, (self.returncode, self.stdout, self.stderr)
        assert "Traceback" not in self.stderr
        assert self.stdout == ""
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("podium: ")
        for fragment in fragments:
            assert fragment in lines[0], lines[0]
        return lines[0]


# never the developer's own servers, tenant or payout providers' keys
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "PODIUM_TENANT", "PODIUM_ENV", "STRIPE_API_KEY",
                 "GIFT_CARDS_API_KEY")  # fmt: skip


def cli_env(database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


async def podium(database_url: str | None, *args: str | Path, cwd: Path = ROOT) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *map(str, args),
        cwd=cwd,
        env=cli_env(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())
