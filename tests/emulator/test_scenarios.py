"""Scenarios chosen through ``config["emulator"]`` and the dryRun cap."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx

from tests.support.emulator import (
    create_job,
    data_frames,
    job_status,
    read_stream,
    train_logs,
    wait_status,
)


def logs_of(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    _, frames, _ = read_stream(client, job_id)
    return [f.json for f in frames if f.event == "training.log"]


def test_diverge_raises_the_loss(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=80, emulator={"scenario": "diverge", "atStep": 30})
    losses = {log["step"]: log["loss"] for log in train_logs(logs_of(client, job_id))}
    rising = [losses[step] for step in range(35, 81, 5)]
    assert rising == sorted(rising) and losses[80] > 2 * losses[30]
    assert all(math.isfinite(v) for v in losses.values())
    assert client.get(f"/v1/jobs/{job_id}").json()["job"]["status"] == "completed"


def test_nan_nulls_the_loss(client: httpx.Client) -> None:
    job_id = create_job(
        client, maxSteps=20, evalSteps=10, emulator={"scenario": "nan", "atStep": 11}
    )
    logs = logs_of(client, job_id)
    before = [log for log in logs if log["step"] <= 10]
    after = [log for log in logs if log["step"] > 10]
    assert all("nonFinite" not in log for log in before)
    assert all(isinstance(log["loss"], float) for log in train_logs(before))
    # Train logs at 15 and 20, the eval log at 20, the summary (a NaN makes the mean NaN).
    assert len(after) == 4 and all(log["nonFinite"] == "nan" for log in after)
    assert all(log["loss"] is None and log["evalLoss"] is None for log in after)


def test_fail_ends_failed_at_step(client: httpx.Client) -> None:
    job_id = create_job(client, emulator={"scenario": "fail", "atStep": 12, "error": "disk full"})
    _, frames, _ = read_stream(client, job_id)
    events = data_frames(frames)
    assert events[-1].event == "training.failed"
    assert events[-1].json["error"] == "disk full" and events[-1].json["step"] == 12
    assert all(f.json.get("step", 0) < 12 for f in events[:-1])
    job = client.get(f"/v1/jobs/{job_id}").json()["job"]
    assert job["status"] == "failed" and job["error"] == "disk full" and job["completedAt"]


def test_queued_stays_queued(client: httpx.Client) -> None:
    job_id = create_job(client, emulator={"scenario": "queued", "queueSeconds": 0.4})
    time.sleep(0.25)  # well inside its 0.4 s in the queue
    assert job_status(client, job_id) == "queued"
    assert client.get(f"/v1/jobs/{job_id}").json()["job"]["startedAt"] is None
    wait_status(client, job_id, "running", "completed")


def test_dry_run_caps_at_ten_steps(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=500, dryRun=True, saveSteps=5)
    _, frames, _ = read_stream(client, job_id)
    done = data_frames(frames)[-1].json
    assert done["type"] == "training.completed" and done["metrics"]["steps"] == 10
    saved = [f.json["step"] for f in frames if f.event == "checkpoint.saved"]
    assert saved == [5, 10]


def test_epochs_drive_the_step_count(client: httpx.Client) -> None:
    job_id = create_job(client, maxSteps=None, numTrainEpochs=0.3)
    _, frames, _ = read_stream(client, job_id)
    assert data_frames(frames)[0].json["metadata"]["totalSteps"] == 30


def test_slow_scenario_stretches_steps(client: httpx.Client) -> None:
    job_id = create_job(
        client, maxSteps=20, emulator={"scenario": "slow", "atStep": 11, "slowFactor": 10}
    )
    _, frames, _ = read_stream(client, job_id)
    runtime = data_frames(frames)[-1].json["metrics"]["runtimeSeconds"]
    assert runtime >= 0.5  # 10 normal steps (0.05 s) + 10 slow ones (0.5 s) at 200 steps/s
