"""Heartbeating from a background task, with typed details.

A stream can be quiet for minutes (queued jobs, slow steps, ping-only
stretches); heartbeats must not depend on events arriving. The details are a
pydantic model; Temporal hands them back to a retry as a plain dict, so
:func:`restore_details` rebuilds the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import TypeVar

from pydantic import BaseModel
from temporalio import activity

DetailsT = TypeVar("DetailsT", bound=BaseModel)


def restore_details(model: type[DetailsT]) -> DetailsT | None:
    """The details the previous attempt last heartbeated, if any."""
    details = activity.info().heartbeat_details
    return model.model_validate(details[0]) if details else None


def heartbeat_interval(timeout: timedelta | None) -> float:
    """A third of the heartbeat timeout.

    The SDK sends at most one heartbeat per 0.8 x timeout (throttling) and coalesces
    the rest, so beating more often than that only keeps the sent details fresh.
    """
    return max(0.2, (timeout or timedelta(seconds=30)).total_seconds() / 3)


class Heartbeater:
    """``async with Heartbeater(lambda: cursor):`` heartbeats ``cursor`` until exit."""

    def __init__(self, details: Callable[[], BaseModel], interval: float | None = None) -> None:
        self._details = details
        self._interval = interval or heartbeat_interval(activity.info().heartbeat_timeout)
        self._task: asyncio.Task[None] | None = None

    def beat(self) -> None:
        activity.heartbeat(self._details().model_dump(mode="json"))

    async def _loop(self) -> None:
        while True:
            self.beat()
            await asyncio.sleep(self._interval)

    async def __aenter__(self) -> Heartbeater:
        self._task = asyncio.create_task(self._loop(), name="heartbeater")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # The last details travel with a failure or shutdown report (docs/temporal.md §3).
        self.beat()
