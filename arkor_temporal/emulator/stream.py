"""The job event stream body: replay, live tail, pings, ``end`` and stream faults.

Resume rule (docs/protocol.md §3.4, §14.5): without ``Last-Event-ID`` the whole history
is replayed; with it, only events strictly after that id are sent. An id this
job never issued is treated like no id at all (full replay) rather than 410:
a client that lost its cursor is better served by a replay it can de-duplicate
than by a permanent error that ends its run.

Every body is written through the job's :class:`FrameWriter` (docs/protocol.md
§14.12: BOM, line endings, comments, ``retry:``, cut writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.framing import Frame, FrameWriter
from arkor_temporal.emulator.hashing import job_seed
from arkor_temporal.emulator.sse import END, PING, event_frame, malformed_frames
from arkor_temporal.emulator.store import Job, Store

PING_ONLY_COUNT = 3
PING_ONLY_MAX_GAP = 0.1
MALFORMED_CYCLE = 6  # five garbage frames, then one valid event
MID_FRAME_DROP_AT = 2  # ``dropMidFrame`` cuts into a connection's second data frame


def resume_position(job: Job, last_event_id: str | None) -> int:
    """Index of the first event to send."""
    if last_event_id is None or last_event_id not in job.event_positions:
        return 0
    return job.event_positions[last_event_id] + 1


def frame_writer(job: Job) -> FrameWriter:
    """The writer of the job's current connection (its own seed, so cuts differ per open)."""
    return FrameWriter(job.plan.framing, job_seed(job.seed, f"connection-{job.stream_opens}"))


async def ping_only(job: Job, ping_interval: float) -> AsyncIterator[bytes]:
    """``pingOnlyFirst``: a few quick pings, then a clean close."""
    writer = frame_writer(job)
    for write in writer.preamble():
        yield write
    for _ in range(PING_ONLY_COUNT):
        for write in writer.writes(PING):
            yield write
        await asyncio.sleep(min(ping_interval, PING_ONLY_MAX_GAP))


async def job_events(
    store: Store, job: Job, position: int, faults: Faults, abort: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The response body: the preamble, then each frame as its writer cuts it."""
    if _cut_connection(job, faults, 0, abort):
        return
    writer = frame_writer(job)
    for write in writer.preamble():
        yield write
    async for frame, cut_midway in _frames(store, job, position, faults, abort):
        writes = writer.writes(frame)
        if cut_midway:
            data = b"".join(writes)
            yield data[: len(data) // 2]
            abort()
            return
        for write in writes:
            yield write


async def _frames(
    store: Store, job: Job, position: int, faults: Faults, abort: Callable[[], None]
) -> AsyncIterator[tuple[Frame, bool]]:
    """Each frame to send, and whether ``dropMidFrame`` cuts the connection inside it.

    A drop after a frame happens when the next one is asked for, i.e. once the
    frame was written.
    """
    sent = 0
    garbage = malformed_frames(job.id, job.created_at) if faults.malformed_frames else []
    while not store.closing:
        while position < len(job.events):
            event = job.events[position]
            position += 1
            if garbage and sent % MALFORMED_CYCLE < len(garbage):
                yield garbage[sent % MALFORMED_CYCLE], False
            if sent + 1 == MID_FRAME_DROP_AT and _cut_mid_frame(job, faults):
                yield event_frame(event), True
                return
            yield event_frame(event), False
            sent += 1
            if _cut_connection(job, faults, sent, abort):
                return
            if faults.end_while_running_after is not None and (
                sent >= faults.end_while_running_after
            ):
                yield END, False
                return
        if job.stream_finished:
            if job.end_frame:
                yield END, False
            return
        # Capture the current wakeup before waiting: notify() swaps it, so no
        # append between the check above and this wait can be missed.
        try:
            await asyncio.wait_for(job.wakeup.wait(), timeout=store.config.ping_interval)
        except TimeoutError:
            yield PING, False


def _cut_mid_frame(job: Job, faults: Faults) -> bool:
    """``dropMidFrame``: whether this connection is one of the job's first N to be cut."""
    if job.mid_frame_drops >= (faults.drop_mid_frame or 0):
        return False
    job.mid_frame_drops += 1
    return True


def _cut_connection(job: Job, faults: Faults, sent: int, abort: Callable[[], None]) -> bool:
    """``dropAfterFrames``: abort right after the Nth data frame, within ``dropConnections``."""
    if faults.drop_after_frames is None or sent < faults.drop_after_frames:
        return False
    if faults.drop_connections is not None and job.dropped_connections >= faults.drop_connections:
        return False
    job.dropped_connections += 1
    abort()
    return True
