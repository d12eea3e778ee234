"""Batching events from the stream activity into workflow signals.

Per-step logs must not each become a history event (README, "How a run works", item 3), so
events are gathered and relayed as one signal when an event the workflow acts
on arrives (started, checkpoint), when the batch is full, or when the oldest
pending event has waited ``flush_seconds``. A batch counts as delivered only
once the signal RPC returned: the caller's cursor moves then and only then, so
a crash can repeat events (the workflow drops repeats) but never skip one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

from arkor_temporal.core.models import RunEvent

SendBatch = Callable[[list[RunEvent]], Awaitable[None]]


class EventRelay:
    def __init__(
        self,
        send: SendBatch,
        *,
        flush_seconds: float,
        on_delivered: Callable[[RunEvent], None],
        max_batch: int = 500,
    ) -> None:
        self._send = send
        self._flush_seconds = flush_seconds
        self._on_delivered = on_delivered
        self._max_batch = max_batch
        self._pending: list[RunEvent] = []
        self._oldest_at: float | None = None
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self.batches_sent = 0

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
                await self._send(batch)
                # Events may have been appended while the signal was in flight.
                del self._pending[: len(batch)]
                self.batches_sent += 1
                self._on_delivered(batch[-1])
            self._oldest_at = None

    async def take_pending(self) -> list[RunEvent]:
        """Stop relaying and hand back what was not sent (it goes into the activity result)."""
        await self._stop_timer()
        async with self._lock:
            pending, self._pending = self._pending, []
            return pending

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
