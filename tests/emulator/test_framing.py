"""The wire shape of job streams: hostile but legal by default, each part switchable off."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from arkor_temporal.emulator import EmulatorServer
from tests.support.emulator import (
    create_job,
    data_frames,
    job_config,
    parse_sse,
    stored_events,
    stream_writes,
    wait_status,
)

BOM = b"\xef\xbb\xbf"


def finished_job(client: httpx.Client, framing: Any = None, **faults: Any) -> str:
    emulator: dict[str, Any] = {"faults": faults}
    if framing is not None:
        emulator["framing"] = framing
    job_id = create_job(client, maxSteps=30, loggingSteps=1, evalSteps=10, emulator=emulator)
    wait_status(client, job_id, "completed")
    return job_id


def lines_of(raw: bytes) -> list[bytes]:
    return re.split(rb"\r\n|\r|\n", raw.removeprefix(BOM))


def assert_all_events_once(raw: bytes, emu: EmulatorServer, job_id: str) -> None:
    frames = parse_sse(raw)
    ids = [e["id"] for e in stored_events(emu.base_url, job_id)]
    assert [f.id for f in data_frames(frames)] == ids and frames[-1].event == "end"


def test_default_framing_is_hostile_but_legal(client: httpx.Client, emu: EmulatorServer) -> None:
    job_id = finished_job(client)
    _, writes = stream_writes(client, job_id)
    raw = b"".join(writes)
    assert raw.startswith(BOM) and raw.count(BOM) == 1
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r"), "CRLF everywhere"
    lines = lines_of(raw)
    assert b": keepalive" in lines and b"retry: 3000" in lines
    # Comments and retry fields inside frames too, not only between them.
    assert re.search(rb"\r\nid: [^\r]+\r\n(: keepalive[^\r]*|:|retry: 3000)\r\n", raw)
    assert len(writes) > 2 * len(parse_sse(raw)), "frames are cut into several writes"
    starts = [write[0] for write in writes[1:]]
    assert any(0x80 <= byte < 0xC0 for byte in starts), "a cut inside a multi-byte character"
    assert 0x0A in starts, "a cut between CR and LF"
    assert writes[0] in (BOM[:1], BOM[:2]), "a cut inside the BOM"
    raw.decode()  # still valid UTF-8 once put together
    assert_all_events_once(raw, emu, job_id)


def test_every_response_starts_with_a_bom(client: httpx.Client) -> None:
    job_id = finished_job(client)
    ids = [f.id for f in data_frames(parse_sse(b"".join(stream_writes(client, job_id)[1])))]
    _, resumed = stream_writes(client, job_id, last_event_id=ids[5])
    _, tail = stream_writes(client, job_id, last_event_id=ids[-1])
    assert b"".join(resumed).startswith(BOM) and b"".join(tail).startswith(BOM)


@pytest.mark.parametrize(
    ("framing", "absent"),
    [
        ({"bom": False}, rb"^\xef\xbb\xbf"),
        ({"lineEnding": "lf"}, rb"\r"),
        ({"lineEnding": "cr"}, rb"\n"),
        ({"comments": False}, rb"[\r\n]:"),
        ({"retry": False}, rb"retry:"),
    ],
    ids=["bom", "lf", "cr", "comments", "retry"],
)
def test_each_switch_turns_one_thing_off(
    client: httpx.Client, emu: EmulatorServer, framing: dict[str, Any], absent: bytes
) -> None:
    default = b"".join(stream_writes(client, finished_job(client))[1])
    assert re.search(absent, default), "present by default"
    job_id = finished_job(client, framing)
    raw = b"".join(stream_writes(client, job_id)[1])
    assert not re.search(absent, raw)
    assert_all_events_once(raw, emu, job_id)


def test_unsplit_writes_are_whole_frames(client: httpx.Client, emu: EmulatorServer) -> None:
    job_id = finished_job(client, {"splitWrites": False})
    _, writes = stream_writes(client, job_id)
    assert all(write.endswith(b"\r\n\r\n") for write in writes)
    assert_all_events_once(b"".join(writes), emu, job_id)


def test_plain_framing_is_the_canonical_one(client: httpx.Client, emu: EmulatorServer) -> None:
    job_id = finished_job(client, "plain", pingOnlyFirst=1)
    _, pings = stream_writes(client, job_id)
    assert pings == [b"event: ping\ndata: \n\n"] * 3
    _, writes = stream_writes(client, job_id)
    raw = b"".join(writes)
    assert b"\r" not in raw and not raw.startswith(BOM) and b"retry:" not in raw
    assert not any(line.startswith(b":") for line in lines_of(raw))
    assert all(re.fullmatch(rb"(id: \S+\n)?event: \S+\ndata: [^\n]*\n\n", w) for w in writes)
    assert_all_events_once(raw, emu, job_id)


def test_ping_only_streams_are_framed_too(client: httpx.Client) -> None:
    job_id = finished_job(client, pingOnlyFirst=1)
    _, writes = stream_writes(client, job_id)
    raw = b"".join(writes)
    assert raw.startswith(BOM) and {f.event for f in parse_sse(raw)} == {"ping"}


@pytest.mark.parametrize("framing", ["fancy", {"lineEnding": "lfcr"}, {"bom": "maybe"}, {"x": 1}])
def test_invalid_framing_is_400(client: httpx.Client, framing: Any) -> None:
    body = {"name": "bad", "config": job_config(emulator={"framing": framing})}
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 400 and "framing" in response.json()["error"]
