"""Stream content, logging styles, event ids, replay, resume, pings and post-cancel variants."""

from __future__ import annotations

import re
import threading
import time
from statistics import fmean
from typing import Any

import httpx
import pytest

from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.emulator.config import GlobalSettings
from tests.support.emulator import (
    ISO_MS,
    api,
    create_job,
    data_frames,
    fast_config,
    read_stream,
    stored_events,
    train_logs,
    wait_status,
)

METRICS = ("loss", "evalLoss", "learningRate", "epoch", "samplesPerSecond")


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
    metadata = events[0].json["metadata"]
    assert metadata["gpu"] == "emulated-L4" and metadata["totalSteps"] == 100
    assert not metadata["gpuName"].isascii(), "raw UTF-8 on the wire, as JSON.stringify sends it"
    assert metadata["gpuName"].encode() in raw
    saved = [f.json for f in events if f.event == "checkpoint.saved"]
    assert [s["step"] for s in saved] == [50, 100]
    assert saved[0]["artifacts"] == [{"pathname": "checkpoints/step-50/adapter_model.safetensors"}]
    done = events[-1].json
    assert done["metrics"]["steps"] == 100 and done["metrics"]["trainLoss"] > 0
    assert len(done["artifacts"]) == 2
    assert [f.id for f in events] == [e["id"] for e in stored_events(emu.base_url, job_id)]
    job = client.get(f"/v1/jobs/{job_id}").json()["job"]
    assert job["status"] == "completed" and job["completedAt"] and job["startedAt"]


def test_logs_like_the_hugging_face_trainer_by_default(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=100, evalSteps=25, loggingSteps=10, saveSteps=50)
    events = [f.json for f in data_frames(read_stream(client, job_id)[1])]
    logs = [e for e in events if e["type"] == "training.log"]
    assert all(set(METRICS) <= log.keys() for log in logs), "every metric key, null if unused"
    train = [log for log in logs if log["learningRate"] is not None]
    evals = [log for log in logs if log["evalLoss"] is not None]
    assert [log["step"] for log in train] == list(range(10, 101, 10))
    assert all(log["loss"] > 0 and log["evalLoss"] is None for log in train)
    assert [log["step"] for log in evals] == [25, 50, 75, 100]
    assert all(log["loss"] is None and log["samplesPerSecond"] is None for log in evals)
    summary = logs[-1]
    assert summary not in train and summary not in evals and summary["step"] == 100
    assert summary["loss"] == pytest.approx(fmean(log["loss"] for log in train))
    assert [m for m in METRICS if summary[m] is not None] == ["loss"]
    assert summary["loss"] == events[-1]["metrics"]["trainLoss"]
    # At step 100: train log, eval log, checkpoint, summary, then the terminal event.
    tail = [(e["type"], e.get("step"), e.get("evalLoss") is not None) for e in events[-5:]]
    assert tail == [
        ("training.log", 100, False),
        ("training.log", 100, True),
        ("checkpoint.saved", 100, False),
        ("training.log", 100, False),
        ("training.completed", None, False),
    ]


def combined_logs_look_like_before(logs: list[dict[str, Any]]) -> None:
    """``combined``: one log per step carrying what the step measured, absent keys left out."""
    steps = [log["step"] for log in logs]
    assert len(steps) == len(set(steps)), "at most one training.log per step"
    assert {log["step"] for log in logs if "evalLoss" in log} == {25, 50, 75, 100}
    assert {log["step"] for log in logs if "loss" in log} == set(range(10, 101, 10))
    eval_only = next(log for log in logs if log["step"] == 25)
    assert "loss" not in eval_only and eval_only["evalLoss"] > 0
    both = next(log for log in logs if log["step"] == 50)
    assert both["loss"] > 0 and both["evalLoss"] > 0 and both["learningRate"] > 0


def test_combined_logging_per_job(client: httpx.Client) -> None:
    knobs = {"maxSteps": 100, "evalSteps": 25, "loggingSteps": 10}
    job_id = create_job(client, **knobs, emulator={"logging": "combined"})
    combined = [f.json for f in read_stream(client, job_id)[1] if f.event == "training.log"]
    combined_logs_look_like_before(combined)
    # Same seed position, same numbers: the styles only group them differently.
    default = create_job(client, **knobs)
    separate = [f.json for f in read_stream(client, default)[1] if f.event == "training.log"]
    assert len(separate) == len(combined) + 3  # steps 50 and 100 split in two, plus the summary


def test_combined_logging_for_the_whole_server() -> None:
    with EmulatorServer(fast_config(settings=GlobalSettings(logging="combined"))) as server:
        client = api(server.base_url)
        job_id = create_job(client, maxSteps=100, evalSteps=25, loggingSteps=10)
        logs = [f.json for f in read_stream(client, job_id)[1] if f.event == "training.log"]
        combined_logs_look_like_before(logs)
        own = create_job(client, maxSteps=20, loggingSteps=10, emulator={"logging": "huggingface"})
        logs = [f.json for f in read_stream(client, own)[1] if f.event == "training.log"]
        assert [log["step"] for log in logs] == [10, 20, 20], "the job's own switch wins"


def test_loss_curve_decreases(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=100, loggingSteps=5)
    logs = [f.json for f in read_stream(client, job_id)[1] if f.event == "training.log"]
    losses = [log["loss"] for log in train_logs(logs)]
    assert losses[0] > 1.8 and losses[-1] < 0.8
    assert sum(losses[:5]) > sum(losses[-5:])


def test_event_ids_are_opaque_unordered_and_resume_exactly(
    client: httpx.Client, emu: EmulatorServer
) -> None:
    job_id = create_job(client, maxSteps=60, loggingSteps=1)
    ids = [f.id for f in data_frames(read_stream(client, job_id)[1])]
    assert len(ids) == len(set(ids)) == 64  # started, 60 logs, a checkpoint, summary, completed
    assert ids != sorted(ids), "ids must not sort in stream order"
    assert len({len(i) for i in ids if i}) > 3, "mixed lengths"
    assert any(i and not i.isalnum() for i in ids), "mixed characters"
    assert [e["id"] for e in stored_events(emu.base_url, job_id)] == ids
    for position in (0, 17, 42, 60):
        resumed = data_frames(read_stream(client, job_id, last_event_id=ids[position])[1])
        assert [f.id for f in resumed] == ids[position + 1 :]


def test_ordered_ids_switch(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=10, emulator={"orderedIds": True})
    ids = [f.id for f in data_frames(read_stream(client, job_id)[1])]
    assert ids == [f"{job_id[:8]}-evt-{n}" for n in range(1, len(ids) + 1)]
    resumed = data_frames(read_stream(client, job_id, last_event_id=ids[3])[1])
    assert [f.id for f in resumed] == ids[4:]


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
