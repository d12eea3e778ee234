"""Server-Sent-Events frame formatting (docs/protocol.md §3.1).

Control frames always carry an empty ``data:`` line: an SSE parser does not
dispatch a frame whose data buffer is empty, so ``event: end`` alone would be
invisible to the SDK.
"""

from __future__ import annotations

import json
from typing import Any

from arkor_temporal.emulator.store import StoredEvent

PING = b"event: ping\ndata: \n\n"
END = b"event: end\ndata: \n\n"
DONE = b"data: [DONE]\n\n"


def to_json(value: Any) -> str:
    """Compact one-line JSON; refuses NaN so the wire never carries invalid JSON."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def event_frame(event: StoredEvent, newline: str = "\n") -> bytes:
    lines = [f"id: {event.id}", f"event: {event.type}", f"data: {to_json(event.data)}", "", ""]
    return newline.join(lines).encode()


def data_frame(payload: Any) -> bytes:
    """An unnamed ``data:`` frame, as OpenAI-style chunk streams use."""
    return f"data: {to_json(payload)}\n\n".encode()


def malformed_frames(job_id: str, timestamp: str) -> list[bytes]:
    """The garbage the ``malformedFrames`` fault interleaves (none carries an ``id``,
    so none can move a client's resume cursor)."""
    paused = {"type": "training.paused", "jobId": job_id, "timestamp": timestamp}
    return [
        b"data: {not json\n\n",
        b"data: null\n\n",
        b"data: 42\n\n",
        f"event: training.paused\ndata: {to_json(paused)}\n\n".encode(),
        b": hello\n\n",
    ]
