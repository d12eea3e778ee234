"""Server-Sent-Events frames (docs/protocol.md §3.1).

Job stream frames are kept as their field lines and written by
:class:`~arkor_temporal.emulator.framing.FrameWriter`, which owns the line
endings and the rest of the wire shape. Control frames always carry an empty
``data:`` line: an SSE parser does not dispatch a frame whose data buffer is
empty, so ``event: end`` alone would be invisible to the SDK.
"""

from __future__ import annotations

import json
from typing import Any

from arkor_temporal.emulator.framing import Frame
from arkor_temporal.emulator.store import StoredEvent

PING: Frame = ("event: ping", "data: ")
END: Frame = ("event: end", "data: ")
DONE = b"data: [DONE]\n\n"


def to_json(value: Any) -> str:
    """Compact one-line JSON; refuses NaN so the wire never carries invalid JSON.

    Non-ASCII stays raw UTF-8, as a JavaScript server's ``JSON.stringify`` sends it.
    """
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def event_frame(event: StoredEvent) -> Frame:
    return (f"id: {event.id}", f"event: {event.type}", f"data: {to_json(event.data)}")


def data_frame(payload: Any) -> bytes:
    """An unnamed ``data:`` frame, as OpenAI-style chunk streams use."""
    return f"data: {to_json(payload)}\n\n".encode()


def malformed_frames(job_id: str, timestamp: str) -> list[Frame]:
    """The garbage the ``malformedFrames`` fault interleaves (none carries an ``id``,
    so none can move a client's resume cursor)."""
    paused = {"type": "training.paused", "jobId": job_id, "timestamp": timestamp}
    return [
        ("data: {not json",),
        ("data: null",),
        ("data: 42",),
        ("event: training.paused", f"data: {to_json(paused)}"),
        (": hello",),
    ]
