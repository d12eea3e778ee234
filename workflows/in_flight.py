"""Work a run starts beside its main line: evaluations, hooks and notices in flight.

They run as workflow tasks so that a slow evaluation or webhook never holds up
following the job; the run waits for them before it continues as new (their
results are state to carry) and, for a bounded time, before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow

Spawn = Callable[[Coroutine[Any, Any, object]], None]


class WorkInFlight:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def idle(self) -> bool:
        return not self._tasks

    async def drain(self, grace: timedelta) -> None:
        """Let the work finish within ``grace``; cancel what is still running after it."""
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                self.idle, timeout=grace, timeout_summary="evaluations and hooks in flight"
            )
        for task in list(self._tasks):
            task.cancel()  # recorded as unfinished by their absence
