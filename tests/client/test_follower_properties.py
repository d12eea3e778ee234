"""Property: whatever the BOM, line endings, chunks, comments and junk, each valid event
arrives once, in order, with its content intact (docs/protocol.md §14.12)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arkor_cloud import EventFollower, ReconnectPolicy, StreamEvent
from tests.support.scripted import Backend, Stream

JUNK = [
    "data: {bad",
    "data: null",
    "data: 7",
    'data: "str"',
    ": a comment",
    "retry: 5",
    "event: ping\ndata: ",
    'event: training.log\ndata: {"type":"training.log"}',  # step missing
    'event: training.started\ndata: {"type":"training.log","step":1}',  # names disagree
]

payloads = st.one_of(
    st.builds(
        lambda step, loss: {"type": "training.log", "step": step, "loss": loss},
        st.integers(0, 10_000),
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    ),
    st.builds(lambda step: {"type": "checkpoint.saved", "step": step}, st.integers(0, 10_000)),
    st.just({"type": "training.started"}),
    st.builds(
        lambda name, extra: {"type": f"training.{name}", "extra": extra},
        st.sampled_from(["paused", "cancelled", "resumed"]),
        st.text(max_size=20),
    ),
)
items = st.lists(st.one_of(payloads, st.sampled_from(JUNK)), max_size=25)


def serialize(lines: list[str], endings: list[str]) -> str:
    return "".join(line + endings[i % len(endings)] for i, line in enumerate(lines))


# Per-line LF/CRLF mixes, or lone CR throughout. (A lone CR followed by an LF-ended empty
# line is one CRLF by definition, so CR is not mixed with LF.)
line_endings = st.one_of(
    st.lists(st.sampled_from(["\n", "\r\n"]), min_size=1, max_size=7), st.just(["\r"])
)
# Lines legal anywhere, inside a frame or between frames, that change no event.
DECORATIONS = [": keepalive", ":", ": keepalive \u00b7 \u2014", "retry: 3000", "retry: x"]
decorations = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(DECORATIONS)), max_size=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=items,
    bom=st.booleans(),
    endings=line_endings,
    inserts=decorations,
    cuts=st.lists(st.integers(0, 10_000), max_size=30),
)
def test_follower_yields_exactly_the_valid_events(
    items: list[dict[str, Any] | str],
    bom: bool,
    endings: list[str],
    inserts: list[tuple[int, str]],
    cuts: list[int],
) -> None:
    lines: list[str] = []
    expected: list[tuple[str, str, Any]] = []
    for n, item in enumerate([*items, {"type": "training.completed"}]):
        if isinstance(item, str):
            lines += [*item.split("\n"), ""]
            continue
        payload = {**item, "jobId": "j1", "timestamp": "2026-01-01T00:00:00Z"}
        event_id = f"evt-{n}"
        lines += [
            f"id: {event_id}",
            f"event: {payload['type']}",
            # Raw UTF-8, as a JavaScript server sends it: cuts may land inside a character.
            f"data: {json.dumps(payload, ensure_ascii=False)}",
            "",
        ]
        expected.append((event_id, payload["type"], payload.get("extra")))
    for position, line in inserts:
        lines.insert(position % (len(lines) + 1), line)
    data = ("\ufeff" if bom else "").encode() + serialize(lines, endings).encode()
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points) if b > a]

    async def run() -> list[StreamEvent]:
        backend = Backend([Stream(chunks=chunks)])
        async with backend.client() as client:
            follower = EventFollower(client, "j1", policy=ReconnectPolicy(max_attempts=0))
            return [event async for event in follower]

    events = asyncio.run(run())
    received = [(e.event_id, e.type, (e.model_extra or {}).get("extra")) for e in events]
    assert received == expected
