"""Helpers shared by the workflow tests: specs, and what the emulator says happened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from arkor_temporal.core.models import EventLedger, EventType, StatusView
from arkor_temporal.core.progress import chain_digest
from arkor_temporal.core.spec import RunSpec, parse_spec
from arkor_temporal.workflows.training_run import TrainingRun

APPLIED_TYPES = {t.value for t in EventType}


def make_spec(**overrides: Any) -> RunSpec:
    """A small, fast run on the emulator; keyword arguments override spec fields."""
    data: dict[str, Any] = {
        "name": "test-run",
        "model": "unsloth/gemma-4-E4B-it",
        "dataset": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "lora": {"r": 16, "alpha": 32},
        "maxSteps": 60,
        "loggingSteps": 5,
        "saveSteps": 20,
        "evalSteps": 20,
        "orchestration": {"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": 5},
    }
    data.update(overrides)
    return parse_spec(data)


def slow_spec(name: str, heartbeat_timeout: float) -> RunSpec:
    """A run long enough (about 18 s on the test emulator) to lose a worker in the middle of."""
    return make_spec(
        name=name,
        maxSteps=600,
        backend={"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 3}},
        orchestration={"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": heartbeat_timeout},
    )


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


def jobs_with_marker(inspect: httpx.Client, marker: str) -> list[dict[str, Any]]:
    response = inspect.get("/_emulator/jobs")
    response.raise_for_status()
    return [job for job in response.json()["jobs"] if job.get("marker") == marker]


async def wait_for_status(
    client: Client, workflow_id: str, ready: Callable[[StatusView], bool], within: float = 60
) -> StatusView:
    """Poll the run's ``status`` query until ``ready``; fail if the run closes first."""
    handle = client.get_workflow_handle(workflow_id)
    async with asyncio.timeout(within):
        while True:
            description = await handle.describe()
            assert description.status == WorkflowExecutionStatus.RUNNING, description.status
            try:
                status = await handle.query(TrainingRun.status)
            except Exception:  # no worker has answered yet
                status = None
            if status is not None and ready(status):
                return status
            await asyncio.sleep(0.05)


async def wait_for_step(client: Client, workflow_id: str, step: int) -> StatusView:
    return await wait_for_status(client, workflow_id, lambda status: status.step >= step)
