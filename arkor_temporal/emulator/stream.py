"""The job event stream body: replay, live tail, pings, ``end`` and stream faults.

Resume rule (docs/protocol.md §3.4, §14.5): without ``Last-Event-ID`` the whole history
is replayed; with it, only events strictly after that id are sent. An id this
job never issued is treated like no id at all (full replay) rather than 410:
a client that lost its cursor is better served by a replay it can de-duplicate
than by a permanent error that ends its run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.sse import END, PING, event_frame, malformed_frames
from arkor_temporal.emulator.store import Job, Store

PING_ONLY_COUNT = 3
PING_ONLY_MAX_GAP = 0.1
MALFORMED_CYCLE = 6  # five garbage frames, then one valid event sent with CRLF endings


def resume_position(job: Job, last_event_id: str | None) -> int:
    """Index of the first event to send."""
    if last_event_id is None or last_event_id not in job.event_positions:
        return 0
    return job.event_positions[last_event_id] + 1


async def ping_only(ping_interval: float) -> AsyncIterator[bytes]:
    """``pingOnlyFirst``: a few quick pings, then a clean close."""
    for _ in range(PING_ONLY_COUNT):
        yield PING
        await asyncio.sleep(min(ping_interval, PING_ONLY_MAX_GAP))


async def job_events(
    store: Store, job: Job, position: int, faults: Faults, abort: Callable[[], None]
) -> AsyncIterator[bytes]:
    sent = 0
    garbage = malformed_frames(job.id, job.created_at) if faults.malformed_frames else []
    if _cut_connection(job, faults, sent, abort):
        return
    while not store.closing:
        while position < len(job.events):
            event = job.events[position]
            position += 1
            newline = "\n"
            if garbage:
                slot = sent % MALFORMED_CYCLE
                if slot < len(garbage):
                    yield garbage[slot]
                else:
                    newline = "\r\n"
            yield event_frame(event, newline)
            sent += 1
            if _cut_connection(job, faults, sent, abort):
                return
            if faults.end_while_running_after is not None and (
                sent >= faults.end_while_running_after
            ):
                yield END
                return
        if job.stream_finished:
            if job.end_frame:
                yield END
            return
        # Capture the current wakeup before waiting: notify() swaps it, so no
        # append between the check above and this wait can be missed.
        try:
            await asyncio.wait_for(job.wakeup.wait(), timeout=store.config.ping_interval)
        except TimeoutError:
            yield PING


def _cut_connection(job: Job, faults: Faults, sent: int, abort: Callable[[], None]) -> bool:
    """``dropAfterFrames``: abort right after the Nth data frame, within ``dropConnections``."""
    if faults.drop_after_frames is None or sent < faults.drop_after_frames:
        return False
    if faults.drop_connections is not None and job.dropped_connections >= faults.drop_connections:
        return False
    job.dropped_connections += 1
    abort()
    return True
