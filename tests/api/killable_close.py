"""`podium close` in a process a test may kill: `python -m tests.api.killable_close ARGS`.

Environment: PODIUM_SLOW_SECONDS (each chunk's recompute sleeps this long after computing,
inside its uncommitted transaction) and PODIUM_MARKER (a file touched when a chunk reaches
that point), so the test knows when to SIGKILL the process or stop the database under it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import domain.earnings.close as closing
from api.cli import main


def slow_down(seconds: float, marker: Path) -> None:
    real = closing.recompute_many

    async def slow(**kwargs: Any) -> Any:
        result = await real(**kwargs)
        await asyncio.to_thread(marker.touch)
        await asyncio.sleep(seconds)
        return result

    closing.recompute_many = slow  # type: ignore[assignment]


if __name__ == "__main__":
    slow_down(float(os.environ["PODIUM_SLOW_SECONDS"]), Path(os.environ["PODIUM_MARKER"]))
    main()
