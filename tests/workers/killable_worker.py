"""A real arq worker process for the crash test: `python -m tests.workers.killable_worker`.

Environment: DATABASE_URL, REDIS_URL, PODIUM_QUEUE (the test's queue), PODIUM_SLOW_SECONDS
(each batch recompute sleeps this long after computing, before its transaction commits) and
PODIUM_MARKER (a file created when a recompute reaches that point, so the test knows when to
kill -9 the process mid-recompute)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from arq.worker import Worker

import workers.tasks.earnings as earnings_task
from workers.settings import FUNCTIONS, redis_settings, shutdown, startup


def slow_down(seconds: float, marker: Path) -> None:
    real = earnings_task.earnings_service.recompute_many

    async def slow(**kwargs: Any) -> Any:
        result = await real(**kwargs)
        await asyncio.to_thread(marker.touch)
        await asyncio.sleep(seconds)  # still inside the uncommitted transaction
        return result

    earnings_task.earnings_service.recompute_many = slow  # type: ignore[assignment]


def main() -> None:
    seconds = float(os.environ.get("PODIUM_SLOW_SECONDS", "0"))
    if seconds:
        slow_down(seconds, Path(os.environ["PODIUM_MARKER"]))
    worker = Worker(
        functions=FUNCTIONS,
        queue_name=os.environ["PODIUM_QUEUE"],
        redis_settings=redis_settings(os.environ["REDIS_URL"]),
        on_startup=startup,
        on_shutdown=shutdown,
        poll_delay=0.05,
    )
    worker.run()


if __name__ == "__main__":
    main()
