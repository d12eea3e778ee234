"""Every fault switch, per job and global."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.emulator.faults import Faults
from tests.support.emulator import (
    api,
    create_job,
    data_frames,
    fast_config,
    job_config,
    parse_sse,
    read_stream,
    stored_events,
    wait_status,
)


def faulty_job(client: httpx.Client, **faults: object) -> str:
    return create_job(client, emulator={"faults": faults})


def test_stream_not_found_first(client: httpx.Client) -> None:
    job_id = faulty_job(client, streamNotFoundFirst=2)
    statuses = [read_stream(client, job_id)[0] for _ in range(3)]
    assert statuses == [404, 404, 200]


def test_empty_then_ping_only_streams(client: httpx.Client) -> None:
    job_id = faulty_job(client, emptyStreamFirst=1, pingOnlyFirst=2)
    status, frames, raw = read_stream(client, job_id)
    assert status == 200 and raw == b""
    status, frames, _ = read_stream(client, job_id)
    assert status == 200 and frames and {f.event for f in frames} == {"ping"}
    assert data_frames(read_stream(client, job_id)[1])


def test_malformed_frames_still_deliver_every_event(
    client: httpx.Client, emu: EmulatorServer
) -> None:
    job_id = faulty_job(client, malformedFrames=True)
    _, frames, raw = read_stream(client, job_id)
    for garbage in (b"data: {not json", b"data: null", b"data: 42", b": hello", b"\r\n"):
        assert garbage in raw
    assert b"event: training.paused" in raw
    valid = [f for f in frames if f.id is not None]
    assert [f.id for f in valid] == [e["id"] for e in stored_events(emu.base_url, job_id)]
    assert frames[-1].event == "end"


def test_drop_after_frames_cuts_connections(client: httpx.Client) -> None:
    job_id = create_job(
        client, maxSteps=60, emulator={"faults": {"dropAfterFrames": 3, "dropConnections": 2}}
    )
    wait_status(client, job_id, "completed")
    cursor = None
    for _ in range(2):
        received: list[str] = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream(
                "GET",
                f"/v1/jobs/{job_id}/events/stream",
                headers={"Last-Event-ID": cursor} if cursor else {},
            ) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("id: "):
                    received.append(line[4:])
        assert len(received) == 3
        cursor = received[-1]
    _, frames, _ = read_stream(client, job_id, last_event_id=cursor)
    assert frames[-1].event == "end"


def test_end_while_running(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=2000, emulator={"faults": {"endWhileRunningAfter": 2}})
    wait_status(client, job_id, "running")
    _, frames, _ = read_stream(client, job_id)
    assert len(data_frames(frames)) == 2 and frames[-1].event == "end"
    assert client.get(f"/v1/jobs/{job_id}").json()["job"]["status"] == "running"
    client.post(f"/v1/jobs/{job_id}/cancel")


def test_slow_start(client: httpx.Client) -> None:
    job_id = faulty_job(client, slowStartSeconds=0.3)
    started = time.monotonic()
    with client.stream("GET", f"/v1/jobs/{job_id}/events/stream") as response:
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.3


def test_per_job_server_errors(client: httpx.Client) -> None:
    burst = faulty_job(client, serverErrorBurst=2)
    statuses = [client.get(f"/v1/jobs/{burst}").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    always = faulty_job(
        client, serverErrorRate=1.0, serverErrorStatus=502, serverErrorEmptyBody=True
    )
    for response in (
        client.get(f"/v1/jobs/{always}"),
        client.post(f"/v1/jobs/{always}/cancel"),
        client.get(f"/v1/jobs/{always}/events/stream"),
    ):
        assert response.status_code == 502 and response.content == b""
    failing = faulty_job(client, serverErrorRate=1.0)
    assert client.get(f"/v1/jobs/{failing}").json() == {"error": "upstream unavailable"}
    assert client.get("/v1/jobs").status_code == 200, "other requests are unaffected"


def create_attempts(base_url: str) -> list[dict[str, Any]]:
    attempts: list[dict[str, Any]] = httpx.get(f"{base_url}/_emulator/create-attempts").json()[
        "attempts"
    ]
    return attempts


def test_lost_create_response_and_a_retry_with_the_same_key_makes_a_second_job(
    client: httpx.Client, emu: EmulatorServer
) -> None:
    config = job_config(emulator={"faults": {"loseCreateResponse": 1}})
    body, headers = {"name": "lost", "config": config}, {"Idempotency-Key": "lost-key"}
    with pytest.raises(httpx.TransportError):
        client.post("/v1/jobs", json=body, headers=headers)
    retry = client.post("/v1/jobs", json=body, headers=headers)
    assert retry.status_code == 201
    mine = [a for a in create_attempts(emu.base_url) if a["idempotencyKey"] == "lost-key"]
    assert [(a["created"], a["responseLost"]) for a in mine] == [(True, True), (True, False)]
    assert mine[0]["jobId"] != retry.json()["job"]["id"], "the key is ignored (§14.3)"


def test_lost_create_responses_count_per_run(client: httpx.Client, emu: EmulatorServer) -> None:
    """Interleaved runs each lose their own first N answers: by marker, else by name."""
    faults = {"faults": {"loseCreateResponse": 2}}

    def post(name: str, marker: str | None) -> bool:
        extra = {"arkorTemporal": {"marker": marker}} if marker else {}
        body = {"name": name, "config": job_config(emulator=faults, **extra)}
        try:
            client.post("/v1/jobs", json=body)
        except httpx.TransportError:
            return False
        return True

    answered = [post(name, marker) for _ in range(3) for name, marker in RUNS]
    assert answered == [False] * 6 + [True] * 3
    for name, marker in RUNS:
        mine = [a for a in create_attempts(emu.base_url) if a["marker"] == marker]
        if marker is None:  # the run without a marker is known by its name
            mine = [a for a in mine if a["jobId"] in jobs_named(client, name)]
        assert [a["responseLost"] for a in mine] == [True, True, False]


RUNS = [("shared-name", "marker-a"), ("shared-name", "marker-b"), ("by-name", None)]


def jobs_named(client: httpx.Client, name: str) -> set[str]:
    return {j["id"] for j in client.get("/v1/jobs").json()["jobs"] if j["name"] == name}


def test_drop_mid_frame_cuts_inside_a_frame_then_resumes_exactly(
    client: httpx.Client, emu: EmulatorServer
) -> None:
    job_id = faulty_job(client, dropMidFrame=2)
    wait_status(client, job_id, "completed")
    cursor = None
    for _ in range(2):
        writes: list[bytes] = []
        headers = {"Last-Event-ID": cursor} if cursor else {}
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("GET", f"/v1/jobs/{job_id}/events/stream", headers=headers) as response,
        ):
            writes.extend(response.iter_raw())
        whole, cut = b"".join(writes).rsplit(b"\r\n\r\n", 1)
        complete = [f for f in parse_sse(whole + b"\r\n\r\n") if f.id]
        assert len(complete) == 1, "one whole data frame, then the cut"
        assert len(cut) > 20, "cut inside the second data frame"
        cursor = complete[0].id
    _, frames, _ = read_stream(client, job_id, last_event_id=cursor)
    ids = [e["id"] for e in stored_events(emu.base_url, job_id)]
    assert [f.id for f in data_frames(frames)] == ids[2:] and frames[-1].event == "end"


def test_global_server_error_burst_counts_per_job() -> None:
    with EmulatorServer(fast_config()) as server:
        client, inspect = api(server.base_url), httpx.Client(base_url=server.base_url)
        first, second = create_job(client), create_job(client)
        inspect.post("/_emulator/faults", json={"serverErrorBurst": 1})
        statuses = [client.get(f"/v1/jobs/{job}").status_code for job in (first, second, first)]
        assert statuses == [503, 503, 200], "each job's routes have their own burst"
        assert [client.get("/v1/me").status_code for _ in range(2)] == [503, 200]


@pytest.fixture
def global_emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(fast_config()) as server:
        yield server


def test_global_faults(global_emu: EmulatorServer) -> None:
    client = api(global_emu.base_url)
    inspect = httpx.Client(base_url=global_emu.base_url)
    assert inspect.post("/_emulator/faults", json={"serverErrorBurst": 2}).status_code == 200
    assert [client.get("/v1/jobs").status_code for _ in range(3)] == [503, 503, 200]
    inspect.post("/_emulator/faults", json={"serverErrorRate": 0.5})
    statuses = {client.get("/v1/me").status_code for _ in range(40)}
    assert statuses == {200, 503}
    inspect.post("/_emulator/faults", json={"streamNotFoundFirst": 1, "postCancel": "unknown"})
    assert inspect.get("/_emulator/faults").json()["faults"] == {
        "streamNotFoundFirst": 1,
        "postCancel": "unknown",
    }
    job_id = create_job(client)
    assert [read_stream(client, job_id)[0] for _ in range(2)] == [404, 200]
    inspect.post("/_emulator/faults", json={"loseCreateResponse": 1})
    with pytest.raises(httpx.TransportError):
        create_job(client)
    create_job(client)
    assert len(client.get("/v1/jobs").json()["jobs"]) == 3
    bad = inspect.post("/_emulator/faults", json={"serverErrorRate": 7})
    assert bad.status_code == 400
    assert inspect.post("/_emulator/reset").json() == {"ok": True}
    assert client.get("/v1/jobs").json() == {"jobs": []}


def test_global_faults_from_config() -> None:
    config = fast_config(faults=Faults.model_validate({"serverErrorBurst": 1}))
    with EmulatorServer(config) as server:
        client = api(server.base_url)
        assert [client.get("/v1/me").status_code for _ in range(2)] == [503, 200]
