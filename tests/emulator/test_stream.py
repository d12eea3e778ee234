"""SSE framing, replay, resume, pings and the three post-cancel variants."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from arkor_temporal.emulator import EmulatorServer
from tests.support.emulator import (
    ISO_MS,
    api,
    create_job,
    data_frames,
    fast_config,
    read_stream,
    stored_events,
    wait_status,
)


def test_frames_follow_the_canonical_format(client: httpx.Client, emu: EmulatorServer) -> None:
    job_id = create_job(client, maxSteps=100, evalSteps=25, loggingSteps=10)
    status, frames, raw = read_stream(client, job_id)
    assert status == 200
    assert b"data: null" not in raw
    assert frames[-1].event == "end" and frames[-1].data == "" and frames[-1].id is None
    events = data_frames(frames)
    for frame in events:
        body = frame.json
        assert frame.id and frame.event == body["type"]
        assert body["jobId"] == job_id and re.match(ISO_MS, body["timestamp"])
    types = [f.event for f in events]
    assert types[0] == "training.started" and types[-1] == "training.completed"
    assert events[0].json["metadata"] == {"gpu": "emulated-L4", "totalSteps": 100}
    logs = [f.json for f in events if f.event == "training.log"]
    steps = [log["step"] for log in logs]
    assert len(steps) == len(set(steps)), "at most one training.log per step"
    assert {log["step"] for log in logs if "evalLoss" in log} == {25, 50, 75, 100}
    assert {log["step"] for log in logs if "loss" in log} == set(range(10, 101, 10))
    eval_only = next(log for log in logs if log["step"] == 25)
    assert "loss" not in eval_only and eval_only["evalLoss"] > 0
    saved = [f.json for f in events if f.event == "checkpoint.saved"]
    assert [s["step"] for s in saved] == [50, 100]
    assert saved[0]["artifacts"] == [{"pathname": "checkpoints/step-50/adapter_model.safetensors"}]
    done = events[-1].json
    assert done["metrics"]["steps"] == 100 and done["metrics"]["trainLoss"] > 0
    assert len(done["artifacts"]) == 2
    assert [f.id for f in events] == [e["id"] for e in stored_events(emu.base_url, job_id)]
    job = client.get(f"/v1/jobs/{job_id}").json()["job"]
    assert job["status"] == "completed" and job["completedAt"] and job["startedAt"]


def test_loss_curve_decreases(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=100, loggingSteps=5)
    _, frames, _ = read_stream(client, job_id)
    losses = [f.json["loss"] for f in frames if f.event == "training.log"]
    assert losses[0] > 1.8 and losses[-1] < 0.8
    assert sum(losses[:5]) > sum(losses[-5:])


def test_fresh_connection_replays_and_last_event_id_is_exclusive(
    client: httpx.Client, emu: EmulatorServer
) -> None:
    job_id = create_job(client)
    _, first, _ = read_stream(client, job_id)
    ids = [f.id for f in data_frames(first)]
    _, replay, _ = read_stream(client, job_id)
    assert [f.id for f in data_frames(replay)] == ids
    _, resumed, _ = read_stream(client, job_id, last_event_id=ids[2])
    assert [f.id for f in data_frames(resumed)] == ids[3:]
    assert resumed[-1].event == "end"
    _, after_last, _ = read_stream(client, job_id, last_event_id=ids[-1])
    assert [f.event for f in after_last] == ["end"]
    _, unknown, _ = read_stream(client, job_id, last_event_id="no-such-id")
    assert [f.id for f in data_frames(unknown)] == ids


def test_pings_while_quiet_and_cancel_ends_open_streams(client: httpx.Client) -> None:
    job_id = create_job(client, emulator={"scenario": "queued"})
    result: list[list[str | None]] = []

    def follow() -> None:
        _, frames, _ = read_stream(client, job_id)
        result.append([f.event for f in frames])

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(0.55)
    assert client.post(f"/v1/jobs/{job_id}/cancel").json() == {"ok": True}
    reader.join(5)
    events = result[0]
    assert events.count("ping") >= 2 and events[-1] == "end"
    assert "training.started" not in events
    assert wait_status(client, job_id, "cancelled") == "cancelled"


@pytest.mark.parametrize("variant", ["end", "failed", "unknown"])
def test_post_cancel_variants(client: httpx.Client, variant: str) -> None:
    faults = {} if variant == "end" else {"postCancel": variant}
    job_id = create_job(client, maxSteps=5000, emulator={"faults": faults})
    assert wait_status(client, job_id, "running") == "running"
    time.sleep(0.05)
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
    job = client.get(f"/v1/jobs/{job_id}").json()["job"]
    assert job["status"] == "cancelled" and job["completedAt"]
    for _ in range(2):  # a later connection sees the same ending
        _, frames, _ = read_stream(client, job_id)
        types = [f.event for f in frames]
        assert "training.completed" not in types
        if variant == "end":
            assert types[-1] == "end" and types[-2] in ("training.log", "training.started")
        elif variant == "failed":
            assert types[-2:] == ["training.failed", "end"]
            assert frames[-2].json["error"] == "cancelled by user"
        else:
            assert types[-1] == "training.cancelled" and "end" not in types
    count = len(data_frames(frames))
    time.sleep(0.1)
    assert len(data_frames(read_stream(client, job_id)[1])) == count, "no events after cancel"
    assert client.get(f"/v1/jobs/{job_id}").json()["job"]["status"] == "cancelled"


def test_cancel_of_terminal_jobs_is_409(client: httpx.Client, emu: EmulatorServer) -> None:
    job_id = create_job(client, maxSteps=5)
    read_stream(client, job_id)
    again = client.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json() == {"error": "job already completed"}
    queued = create_job(client, emulator={"scenario": "queued"})
    assert client.post(f"/v1/jobs/{queued}/cancel").status_code == 200
    twice = client.post(f"/v1/jobs/{queued}/cancel")
    assert twice.status_code == 409 and twice.json() == {"error": "already cancelled"}
    cancels = httpx.get(f"{emu.base_url}/_emulator/jobs/{queued}/cancels").json()["cancels"]
    assert [(c["statusBefore"], c["answer"]) for c in cancels] == [
        ("queued", 200),
        ("cancelled", 409),
    ]
    missing = client.post("/v1/jobs/00000000-0000-0000-0000-000000000000/cancel")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}


def test_late_subscriber_to_a_failed_job_gets_replay_then_end(client: httpx.Client) -> None:
    job_id = create_job(client, emulator={"scenario": "fail", "atStep": 7})
    assert wait_status(client, job_id, "failed") == "failed"
    _, frames, _ = read_stream(client, job_id)
    assert [f.event for f in frames][-2:] == ["training.failed", "end"]
    assert frames[-2].json["step"] == 7


def test_stop_closes_open_streams_promptly() -> None:
    server = EmulatorServer(fast_config(ping_interval=5.0))
    server.start()
    client = api(server.base_url)
    job_id = create_job(client, emulator={"scenario": "queued"})
    outcome: list[str] = []

    def follow() -> None:
        try:
            read_stream(client, job_id)
            outcome.append("closed")
        except httpx.TransportError:
            outcome.append("cut")

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    reader.join(2)
    assert outcome, "the open stream was not closed"
