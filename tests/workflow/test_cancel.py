"""Every way to end a run early reaches the backend: the GPU job ends ``cancelled``.

Each test checks through the emulator's inspection surface that the job ended
``cancelled`` and how many cancel calls reached it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx
import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import CancelledError

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.runs import cancel_run, wait_for_result
from arkor_temporal.core.models import CancelRequest, RunStatus, StopKind
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.workflows.training_run import TrainingRun
from tests.conftest import worker_process
from tests.helpers import make_spec, wait_for_status, wait_for_step
from tests.workflow.replay import assert_replays
from tests.workflow.test_training_run import running_worker, start

LONG = 3000  # steps: ~30 s at the test emulator's speed; every test ends it early


def backend_job(inspect: httpx.Client, job_id: str) -> dict[str, Any]:
    jobs = inspect.get("/_emulator/jobs").json()["jobs"]
    job: dict[str, Any] = next(job for job in jobs if job["id"] == job_id)
    return job


def cancel_calls(inspect: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = inspect.get(f"/_emulator/jobs/{job_id}/cancels").json()["cancels"]
    return calls


def assert_backend_cancelled(inspect: httpx.Client, job_id: str | None, calls: int = 1) -> None:
    assert job_id is not None
    assert backend_job(inspect, job_id)["status"] == "cancelled"
    answered = [c["answer"] for c in cancel_calls(inspect, job_id)]
    assert answered[0] == 200, answered
    assert len(answered) == calls, answered


async def test_cancel_update_answers_once_the_backend_cancelled(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(name="ops-cancel", maxSteps=LONG)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 20)
        ack = await cancel_run(handle, "bad data found", "ops@example.com")
        result = await handle.result()
    assert ack is not None
    assert (ack.outcome, ack.backend_status) == ("cancelled", "cancelled")
    assert ack.job_id == result.job_id and ack.reason == "bad data found"
    assert result.status is RunStatus.CANCELLED
    assert result.stop is not None and result.stop.kind is StopKind.OPS_CANCEL
    assert result.stop.requested_by == "ops@example.com"
    assert_backend_cancelled(inspect, result.job_id)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    await assert_replays(handle)


async def test_cancel_signal_has_the_same_effect(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(name="signal-cancel", maxSteps=LONG)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 20)
        assert await cancel_run(handle, "from a script", "cron", use_signal=True) is None
        result = await handle.result()
    assert result.status is RunStatus.CANCELLED and result.reason == "from a script"
    assert_backend_cancelled(inspect, result.job_id)


async def test_temporal_cancellation_cancels_the_job_and_ends_canceled(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(name="ui-cancel", maxSteps=LONG)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 20)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await handle.query(TrainingRun.status)
    assert isinstance(failure.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert status.phase.value == "cancelled"
    assert status.job_id is not None
    assert_backend_cancelled(inspect, status.job_id)
    await assert_replays(handle)


@pytest.mark.parametrize("how", ["update", "temporal"])
async def test_cancel_while_the_job_is_being_created(
    how: str,
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    inspect: httpx.Client,
) -> None:
    # The first creation's response is lost: the job exists while the start retries.
    spec = make_spec(
        name=f"early-{how}",
        maxSteps=LONG,
        backend={"emulator": {"faults": {"loseCreateResponse": 1}}},
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        if how == "update":
            ack = await cancel_run(handle, "changed my mind", "tester")
            assert ack is not None and ack.backend_status == "cancelled"
            job_id = (await handle.result()).job_id
        else:
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
            job_id = (await handle.query(TrainingRun.status)).job_id
    marker = f"{handle.id}/{handle.first_execution_run_id}"
    jobs = [j for j in inspect.get("/_emulator/jobs").json()["jobs"] if j["marker"] == marker]
    assert [j["id"] for j in jobs] == [job_id]
    assert_backend_cancelled(inspect, job_id)


async def test_cancel_after_completion_changes_nothing(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(name="late-cancel", maxSteps=30)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
        ack = await cancel_run(handle, "too late", "tester")
        assert await wait_for_result(handle) == result
    assert result.status is RunStatus.COMPLETED
    assert ack is not None and ack.outcome == "already_finished"
    assert ack.run_status == "completed"
    assert result.job_id is not None and cancel_calls(inspect, result.job_id) == []


async def test_two_cancels_at_once_make_one_backend_call_and_both_are_answered(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(name="double-cancel", maxSteps=LONG)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 20)
        first, second = await asyncio.gather(
            cancel_run(handle, "first", "alice"), cancel_run(handle, "second", "bob")
        )
        result = await handle.result()
    assert first is not None and second is not None
    assert sorted([first.outcome, second.outcome]) == ["already_requested", "cancelled"]
    assert first.backend_status == second.backend_status == "cancelled"
    assert result.reason in ("first", "second") and first.reason == second.reason == result.reason
    assert_backend_cancelled(inspect, result.job_id)


async def test_cancel_during_continue_as_new(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="cancel-links",
        maxSteps=LONG,
        loggingSteps=1,
        orchestration={"metricsFlushSeconds": 0.02, "continueAsNewAfterEvents": 30},
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_status(temporal_client, handle.id, lambda status: status.links >= 2)
        latest = temporal_client.get_workflow_handle_for(TrainingRun.run, handle.id)
        ack = await latest.execute_update(
            TrainingRun.cancel, CancelRequest(reason="mid-chain", requested_by="tester")
        )
        result = await latest.result()
    assert ack.backend_status == "cancelled"
    assert result.status is RunStatus.CANCELLED and result.continued_as_new >= 2
    assert_backend_cancelled(inspect, result.job_id)


@pytest.mark.parametrize("variant", ["end", "failed", "unknown"])
async def test_every_post_cancel_stream_variant_ends_cancelled(
    variant: str,
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    inspect: httpx.Client,
) -> None:
    spec = make_spec(
        name=f"post-cancel-{variant}",
        maxSteps=LONG,
        backend={"emulator": {"faults": {"postCancel": variant}}},
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 20)
        ack = await cancel_run(handle, f"variant {variant}", "tester")
        result = await handle.result()
    assert ack is not None and ack.backend_status == "cancelled"
    assert result.status is RunStatus.CANCELLED
    assert_backend_cancelled(inspect, result.job_id)


async def test_worker_sigkill_during_the_cancel_still_cancels(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    inspect: httpx.Client,
    emulator_server: EmulatorServer,
) -> None:
    # The backend takes 3 s to answer the cancel: the worker dies inside that window.
    spec = make_spec(
        name="kill-in-cancel",
        maxSteps=LONG,
        backend={"emulator": {"faults": {"cancelDelaySeconds": 3}}},
        orchestration={"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": 2},
    )
    with worker_process(emulator_server, temporal_client, task_queue) as victim:
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 20)
        update = await handle.start_update(
            TrainingRun.cancel,
            CancelRequest(reason="kill me", requested_by="tester"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await asyncio.sleep(1)  # the cancel activity is now waiting on the backend
        os.kill(victim.pid, signal.SIGKILL)
    async with running_worker(temporal_client, cloud_context, task_queue):
        ack = await update.result()
        result = await handle.result()
    assert ack.backend_status == "cancelled"
    assert result.status is RunStatus.CANCELLED
    # Whether the killed attempt's request landed or not, the backend saw one effective
    # cancel: a retry reads the job first and does not cancel a cancelled job again.
    assert_backend_cancelled(inspect, result.job_id)
    await assert_replays(handle)
