"""``EmulatorConfig.state_file``: projects and jobs outlive an emulator restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arkor_temporal.emulator import EmulatorServer
from tests.support.emulator import (
    api,
    create_job,
    data_frames,
    fast_config,
    read_stream,
    stored_events,
    wait_status,
)
from tests.support.waiting import eventually_blocking

STEPS = 100
STEPS_PER_SECOND = 100.0


def without_timestamps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in e["data"].items() if key != "timestamp"} for e in events]


def uninterrupted_history() -> list[dict[str, Any]]:
    """The same first job of the same seed, on an emulator that never restarts."""
    with EmulatorServer(fast_config(steps_per_second=STEPS_PER_SECOND)) as server:
        with api(server.base_url) as client:
            job_id = create_job(client, maxSteps=STEPS, loggingSteps=1)
            wait_status(client, job_id, "completed")
        return stored_events(server.base_url, job_id)


def test_a_running_job_resumes_after_a_restart_without_gap_or_duplicate(tmp_path: Path) -> None:
    config = fast_config(steps_per_second=STEPS_PER_SECOND, state_file=tmp_path / "state.json")
    with EmulatorServer(config) as first, api(first.base_url) as client:
        job_id = create_job(client, maxSteps=STEPS, loggingSteps=1)
        eventually_blocking(
            lambda: len(stored_events(first.base_url, job_id)),
            lambda count: count >= 10,
            within=5.0,
            what="some events before the restart",
        )
        # Written while running too, not only at shutdown: a crash loses little.
        state_file = config.state_file
        assert state_file is not None
        eventually_blocking(
            lambda: state_file.exists() and job_id in state_file.read_text(),
            within=2.0,
            what="the job in the state file",
        )
    before = [{"id": e.id, "type": e.type, "data": e.data} for e in first.store.jobs[job_id].events]
    assert before[-1]["type"] != "training.completed", "stopped too late to test a resume"

    with EmulatorServer(config) as second, api(second.base_url) as client:
        assert stored_events(second.base_url, job_id)[: len(before)] == before
        _, frames, _ = read_stream(client, job_id, last_event_id=before[-1]["id"])
        assert frames[-1].event == "end"
        resumed = data_frames(frames)
        assert resumed[-1].event == "training.completed"
        assert wait_status(client, job_id, "completed") == "completed"
        history = stored_events(second.base_url, job_id)
    assert [e["id"] for e in history] == [e["id"] for e in before] + [f.id for f in resumed]
    steps = [e["data"]["step"] for e in history if e["type"] == "training.log"]
    assert steps[:STEPS] == list(range(1, STEPS + 1))

    # Ids and metric curves carry on exactly as if the emulator had never stopped.
    plain = uninterrupted_history()
    assert [e["id"] for e in history] == [e["id"] for e in plain]
    logs = [e for e in history if e["type"] == "training.log"]
    plain_logs = [e for e in plain if e["type"] == "training.log"]
    assert without_timestamps(logs) == [
        {**log, "jobId": job_id} for log in without_timestamps(plain_logs)
    ]


def test_a_cancelled_job_stays_cancelled(tmp_path: Path) -> None:
    config = fast_config(state_file=tmp_path / "state.json")
    with EmulatorServer(config) as first, api(first.base_url) as client:
        job_id = create_job(client, emulator={"scenario": "queued"})
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200

    with EmulatorServer(config) as second, api(second.base_url) as client:
        assert wait_status(client, job_id, "cancelled") == "cancelled"
        _, frames, _ = read_stream(client, job_id)
        assert [f.event for f in frames] == ["end"]
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 409
        cancels = client.get(f"/_emulator/jobs/{job_id}/cancels").json()["cancels"]
    assert [(c["statusBefore"], c["answer"]) for c in cancels] == [
        ("queued", 200),
        ("cancelled", 409),
    ]
