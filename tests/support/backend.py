"""What the emulator says happened to a run's GPU job, read from its inspection surface."""

from __future__ import annotations

from typing import Any

import httpx

from arkor_temporal.client.runs import RunHandle
from arkor_temporal.core import names
from arkor_temporal.core.models import EventLedger, EventType, RunResult, RunStatus
from arkor_temporal.core.progress import chain_digest

APPLIED_TYPES = {t.value for t in EventType}


def emitted_events(inspect: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    response = inspect.get(f"/_emulator/jobs/{job_id}/events")
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def expected_ledger(inspect: httpx.Client, job_id: str) -> EventLedger:
    """The ledger a workflow must end with if it applied every emitted event exactly once."""
    ledger = EventLedger()
    for event in emitted_events(inspect, job_id):
        if event["type"] not in APPLIED_TYPES:
            continue
        ledger.count += 1
        ledger.digest = chain_digest(ledger.digest, event["id"])
        ledger.by_type[event["type"]] = ledger.by_type.get(event["type"], 0) + 1
    return ledger


def run_marker(handle: RunHandle) -> str:
    """The marker the run's jobs and create attempts carry: one per workflow chain."""
    assert handle.first_execution_run_id is not None
    return names.run_marker(handle.id, handle.first_execution_run_id)


def jobs_with_marker(inspect: httpx.Client, marker: str) -> list[dict[str, Any]]:
    response = inspect.get("/_emulator/jobs")
    response.raise_for_status()
    return [job for job in response.json()["jobs"] if job.get("marker") == marker]


def create_attempts(inspect: httpx.Client) -> list[dict[str, Any]]:
    """Every job creation request the emulator received, answered or not."""
    attempts: list[dict[str, Any]] = inspect.get("/_emulator/create-attempts").json()["attempts"]
    return attempts


def backend_job(inspect: httpx.Client, job_id: str) -> dict[str, Any]:
    jobs = inspect.get("/_emulator/jobs").json()["jobs"]
    job: dict[str, Any] = next(job for job in jobs if job["id"] == job_id)
    return job


def cancel_calls(inspect: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = inspect.get(f"/_emulator/jobs/{job_id}/cancels").json()["cancels"]
    return calls


def assert_exactly_once(result: RunResult, inspect: httpx.Client, handle: RunHandle) -> None:
    """The run made one job and applied each of its events once (the ledger matches)."""
    assert result.job_id is not None
    assert result.ledger.count > 0
    expected = expected_ledger(inspect, result.job_id)
    assert (result.ledger.count, result.ledger.digest, result.ledger.by_type) == (
        expected.count,
        expected.digest,
        expected.by_type,
    )
    assert [job["id"] for job in jobs_with_marker(inspect, run_marker(handle))] == [result.job_id]


def assert_completed_exactly_once(
    result: RunResult, inspect: httpx.Client, handle: RunHandle
) -> None:
    """The run completed, and :func:`assert_exactly_once`."""
    assert result.status is RunStatus.COMPLETED, result.reason
    assert_exactly_once(result, inspect, handle)


def assert_backend_cancelled(inspect: httpx.Client, job_id: str | None, calls: int = 1) -> None:
    """The job ended cancelled after ``calls`` cancel requests, the first one answered 200."""
    assert job_id is not None
    assert backend_job(inspect, job_id)["status"] == "cancelled"
    answered = [c["answer"] for c in cancel_calls(inspect, job_id)]
    assert answered[0] == 200, answered
    assert len(answered) == calls, answered
