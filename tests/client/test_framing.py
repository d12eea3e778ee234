"""docs/protocol.md §14.12 on scripted streams: a leading BOM, CR / LF / CRLF line endings,
comments and `retry:` inside frames, and bytes cut inside a multi-byte character."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from arkor_cloud import TrainingLog
from tests.support.scripted import DONE, LOG1, LOG2, Backend, Stream, collect, follower

BOM = "\ufeff".encode()
ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


def raw_frame(event_id: str, **payload: object) -> str:
    """A log frame whose JSON keeps non-ASCII raw, as a JavaScript server sends it."""
    body = json.dumps({"type": "training.log", "step": 1, **payload}, ensure_ascii=False)
    return f"id: {event_id}\nevent: training.log\ndata: {body}\n\n"


def one_byte_chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 4])
async def test_a_leading_bom_is_dropped_even_cut_across_chunks(cut: int) -> None:
    # The BOM sits right before the first `id:`: kept, it would hide that event's id.
    body = BOM + (LOG1 + LOG2 + DONE).encode()
    backend = Backend([Stream(chunks=[body[:cut], body[cut:]])])
    assert [e.event_id for e in await collect(follower(backend))] == ["1", "2", "3"]


async def test_the_first_event_is_neither_lost_nor_doubled_across_a_resume() -> None:
    backend = Backend(
        [
            Stream(chunks=[BOM + LOG1.encode()], error=httpx.ReadError("reset")),
            Stream(chunks=[BOM, (LOG2 + DONE).encode()]),
        ]
    )
    events = await collect(follower(backend))
    assert [e.event_id for e in events] == ["1", "2", "3"]
    assert backend.opens[1].headers["last-event-id"] == "1"


async def test_only_the_leading_bom_is_dropped() -> None:
    # U+FEFF opening a later chunk is content, not a mark to drop.
    text = raw_frame("1", note="\ufeffkept")
    cut = text.index("\ufeff")
    backend = Backend([Stream(chunks=[text[:cut].encode(), (text[cut:] + DONE).encode()])])
    log = (await collect(follower(backend)))[0]
    assert isinstance(log, TrainingLog) and log.model_extra == {"note": "\ufeffkept"}


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
async def test_each_line_ending_cut_at_every_byte(ending: str) -> None:
    body = BOM + (LOG1 + LOG2 + DONE).replace("\n", ENDINGS[ending]).encode()
    backend = Backend([Stream(chunks=one_byte_chunks(body))])
    assert [e.event_id for e in await collect(follower(backend))] == ["1", "2", "3"]


@pytest.mark.parametrize("ending", ["cr", "crlf"])
async def test_an_event_is_dispatched_at_its_line_end_without_waiting_for_more_bytes(
    ending: str,
) -> None:
    # The frame's last line end is its final CR (with CRLF, the LF has not come yet);
    # nothing else arrives for a long time, as on a quiet live stream.
    body = LOG1.replace("\n", ENDINGS[ending]).encode().removesuffix(b"\n")
    backend = Backend([Stream(chunks=[body], hang=True)])
    events = aiter(follower(backend))
    first = await asyncio.wait_for(anext(events), timeout=2.0)
    assert first.event_id == "1"
    await events.aclose()


async def test_characters_cut_between_chunks_decode() -> None:
    note = "caf\u00e9 \u2014 \U0001f680"  # two-, three- and four-byte UTF-8
    body = (raw_frame("1", note=note) + DONE).encode()
    backend = Backend([Stream(chunks=one_byte_chunks(body))])
    log = (await collect(follower(backend)))[0]
    assert isinstance(log, TrainingLog) and log.model_extra == {"note": note}


async def test_comments_and_retry_inside_and_between_frames_are_ignored() -> None:
    body = (
        "retry: 3000\r\n: keepalive\r\n\r\n"
        "id: 1\r\n: keepalive \u00b7\r\nevent: training.log\r\nretry: 10\r\n"
        'data: {"type":"training.log","step":1}\r\n:\r\n\r\n'
        ": between\r\n\r\n" + DONE
    )
    backend = Backend([Stream(chunks=[BOM + body.encode()])])
    events = await collect(follower(backend))
    assert [(e.event_id, e.type) for e in events] == [
        ("1", "training.log"),
        ("3", "training.completed"),
    ]
