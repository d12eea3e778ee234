"""Batching events from the stream activity into workflow signals.

Per-step logs must not each become a history event (README, "How a run works", item 3), so
events are gathered and relayed as one signal when an event the workflow acts
on arrives (started, checkpoint), when the batch is full, or when the oldest
pending event has waited ``flush_seconds``. A batch counts as delivered only
once the signal RPC returned: the caller's cursor moves then and only then, so
a crash can repeat events (the workflow drops repeats) but never skip one.
Each batch says where it starts in the stream (the id of the event before its
first), which is how the workflow tells repeats from new events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

from arkor_temporal.core.models import RunEvent, StreamOrigin

SendBatch = Callable[[list[RunEvent], StreamOrigin], Awaitable[None]]


class EventRelay:
    def __init__(
        self,
        send: SendBatch,
        *,
        resume_after: str | None,
        flush_seconds: float,
        on_delivered: Callable[[str | None], None],
        max_batch: int = 500,
    ) -> None:
        self._send = send
        self._after = resume_after  # the id the next batch starts after
        self._flush_seconds = flush_seconds
        self._on_delivered = on_delivered
        self._max_batch = max_batch
        self._pending: list[RunEvent] = []
        self._oldest_at: float | None = None
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def add(self, event: RunEvent, *, urgent: bool = False) -> None:
        if self._timer is not None and self._timer.done():
            self._timer.result()  # a failed timed flush fails the activity here
        if not self._pending:
            self._oldest_at = time.monotonic()
        self._pending.append(event)
        if urgent or len(self._pending) >= self._max_batch or self._overdue():
            await self.flush()

    def _overdue(self) -> bool:
        return (
            self._oldest_at is not None
            and time.monotonic() - self._oldest_at >= self._flush_seconds
        )

    async def flush(self) -> None:
        async with self._lock:
            while self._pending:
                batch = self._pending[: self._max_batch]
                await self._send(batch, StreamOrigin(after=self._after))
                # Events may have been appended while the signal was in flight.
                del self._pending[: len(batch)]
                self._after = _last_id(batch, self._after)
                self._on_delivered(self._after)
            self._oldest_at = None

    async def take_pending(self) -> tuple[list[RunEvent], StreamOrigin]:
        """Stop relaying; hand back what was not sent, and where it starts (for the result)."""
        await self._stop_timer()
        async with self._lock:
            pending, self._pending = self._pending, []
            return pending, StreamOrigin(after=self._after)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(min(self._flush_seconds, 1.0) / 2)
            if self._overdue():
                await self.flush()

    async def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None

    async def __aenter__(self) -> EventRelay:
        self._timer = asyncio.create_task(self._tick(), name="event-relay-timer")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop_timer()


def _last_id(events: list[RunEvent], before: str | None) -> str | None:
    """The position after ``events``: the last id among them (an id-less event has none)."""
    ids = [event.event_id for event in events if event.event_id is not None]
    return ids[-1] if ids else before
