"""End-to-end: training runs on a real Temporal dev server and the real emulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.runs import RunHandle, start_run, wait_for_result
from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.models import RunResult, RunStatus
from arkor_temporal.core.spec import RunSpec
from arkor_temporal.worker import build_worker
from tests.helpers import expected_ledger, jobs_with_marker, make_spec
from tests.workflow.replay import assert_replays


@asynccontextmanager
async def running_worker(
    client: Client, context: CloudContext, task_queue: str
) -> AsyncIterator[Worker]:
    worker = build_worker(
        client,
        context,
        task_queue=task_queue,
        max_cached_workflows=0,  # replay on every task: catches non-determinism here too
        workflow_failure_exception_types=[workflow.NondeterminismError],
    )
    async with worker:
        yield worker


async def start(client: Client, spec: RunSpec, task_queue: str) -> RunHandle:
    return await start_run(
        client, spec, task_queue=task_queue, workflow_id=f"test-{spec.name}-{uuid.uuid4().hex[:8]}"
    )


def assert_exactly_once(result: RunResult, inspect: httpx.Client, handle: RunHandle) -> None:
    assert result.job_id is not None
    assert result.ledger.count > 0
    expected = expected_ledger(inspect, result.job_id)
    assert (result.ledger.count, result.ledger.digest, result.ledger.by_type) == (
        expected.count,
        expected.digest,
        expected.by_type,
    )
    marker = f"{handle.id}/{handle.first_execution_run_id}"
    assert [job["id"] for job in jobs_with_marker(inspect, marker)] == [result.job_id]


async def test_completed_run(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(name="completes", maxSteps=60, saveSteps=20)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert [c.step for c in result.checkpoints] == [20, 40, 60]
    assert result.metrics.steps == 60
    assert result.artifacts, "the completed event's artifacts reach the result"
    assert result.metrics.last_loss is not None and result.metrics.min_loss is not None
    assert result.series and result.series[-1].step == 60
    assert_exactly_once(result, inspect, handle)
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(sa.JOB_ID) == result.job_id
    assert attributes.get(sa.PHASE) == "completed"
    assert attributes.get(sa.RUN_NAME) == "completes"
    assert attributes.get(sa.STEP) == 60
    assert await description.static_summary() is not None
    await assert_replays(handle)


async def test_failed_run_fails_the_workflow_with_its_result(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="fails",
        maxSteps=80,
        backend={"emulator": {"scenario": "fail", "atStep": 30, "error": "CUDA out of memory"}},
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        result = await wait_for_result(handle)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "TrainingFailed"
    assert cause.non_retryable
    assert result.status is RunStatus.FAILED
    assert "CUDA out of memory" in result.reason
    assert result.metrics.steps < 30
    assert_exactly_once(result, inspect, handle)
    await assert_replays(handle)


async def test_diverging_run_still_completes(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="diverges", maxSteps=80, backend={"emulator": {"scenario": "diverge", "atStep": 40}}
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert result.metrics.min_loss is not None and result.metrics.last_loss is not None
    assert result.metrics.last_loss > 2 * result.metrics.min_loss
    assert_exactly_once(result, inspect, handle)
