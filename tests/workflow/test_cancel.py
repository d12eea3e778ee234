"""Every way to end a run early reaches the backend: the GPU job ends ``cancelled``.

Each test checks through the emulator's inspection surface that the job ended
``cancelled`` and how many cancel calls reached it.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateStage
from temporalio.exceptions import CancelledError

from arkor_temporal.client.runs import cancel_run, wait_for_result
from arkor_temporal.core.models import CancelRequest, RunResult, RunStatus, StopKind
from arkor_temporal.core.names import RESULT_MEMO
from arkor_temporal.workflows.training_run import TrainingRun
from tests.support.backend import (
    assert_backend_cancelled,
    cancel_calls,
    jobs_with_marker,
    run_marker,
)
from tests.support.replay import assert_replays
from tests.support.runs import Runs, emulator_faults, make_spec

LONG = 3000  # steps: ~30 s at the test emulator's speed; every test ends it early


async def test_cancel_update_answers_once_the_backend_cancelled(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(name="ops-cancel", maxSteps=LONG)
    async with runs.training(spec, step=20) as handle:
        ack = await cancel_run(handle, "bad data found", "ops@example.com")
        result = await wait_for_result(handle)
    assert ack is not None
    assert (ack.outcome, ack.backend_status) == ("cancelled", "cancelled")
    assert ack.job_id == result.job_id and ack.reason == "bad data found"
    assert result.status is RunStatus.CANCELLED
    assert result.stop is not None and result.stop.kind is StopKind.OPS_CANCEL
    assert result.stop.requested_by == "ops@example.com"
    assert_backend_cancelled(inspect, result.job_id)
    # Canceled in the Web UI and its filters, like a cancel through Temporal; the
    # result, which a Canceled execution cannot carry, is kept in the memo.
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.CANCELED
    assert await description.memo_value(RESULT_MEMO, type_hint=RunResult) == result
    await assert_replays(handle)


async def test_cancel_signal_has_the_same_effect(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(name="signal-cancel", maxSteps=LONG)
    async with runs.training(spec, step=20) as handle:
        assert await cancel_run(handle, "from a script", "cron", use_signal=True) is None
        result = await wait_for_result(handle)
    assert result.status is RunStatus.CANCELLED and result.reason == "from a script"
    assert_backend_cancelled(inspect, result.job_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_temporal_cancellation_cancels_the_job_and_ends_canceled(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(name="ui-cancel", maxSteps=LONG)
    async with runs.training(spec, step=20) as handle:
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await handle.query(TrainingRun.status)
    assert isinstance(failure.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert status.phase.value == "cancelled"
    assert status.job_id is not None
    assert_backend_cancelled(inspect, status.job_id)
    # The whole result, not a blank one: the run kept it in its memo.
    result = await wait_for_result(handle)
    assert (result.status, result.run_name, result.job_id) == (
        RunStatus.CANCELLED,
        "ui-cancel",
        status.job_id,
    )
    assert result.metrics.steps >= 20 and result.stop is not None
    await assert_replays(handle)


@pytest.mark.parametrize("how", ["update", "temporal"])
async def test_cancel_while_the_job_is_being_created(
    how: str, runs: Runs, inspect: httpx.Client
) -> None:
    # The first creation's response is lost: the job exists while the start retries.
    spec = make_spec(
        name=f"early-{how}", maxSteps=LONG, backend=emulator_faults(loseCreateResponse=1)
    )
    async with runs.worker():
        handle = await runs.start(spec)
        if how == "update":
            ack = await cancel_run(handle, "changed my mind", "tester")
            assert ack is not None and ack.backend_status == "cancelled"
            job_id = (await wait_for_result(handle)).job_id
        else:
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
            job_id = (await handle.query(TrainingRun.status)).job_id
    assert [job["id"] for job in jobs_with_marker(inspect, run_marker(handle))] == [job_id]
    assert_backend_cancelled(inspect, job_id)


async def test_cancel_after_completion_changes_nothing(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(name="late-cancel", maxSteps=30)
    async with runs.worker():
        handle = await runs.start(spec)
        result = await handle.result()
        ack = await cancel_run(handle, "too late", "tester")
        assert await wait_for_result(handle) == result
    assert result.status is RunStatus.COMPLETED
    assert ack is not None and ack.outcome == "already_finished"
    assert ack.run_status == "completed"
    assert result.job_id is not None and cancel_calls(inspect, result.job_id) == []


async def test_two_cancels_at_once_make_one_backend_call_and_both_are_answered(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(name="double-cancel", maxSteps=LONG)
    async with runs.training(spec, step=20) as handle:
        first, second = await asyncio.gather(
            cancel_run(handle, "first", "alice"), cancel_run(handle, "second", "bob")
        )
        result = await wait_for_result(handle)
    assert first is not None and second is not None
    assert sorted([first.outcome, second.outcome]) == ["already_requested", "cancelled"]
    assert first.backend_status == second.backend_status == "cancelled"
    assert result.reason in ("first", "second") and first.reason == second.reason == result.reason
    assert_backend_cancelled(inspect, result.job_id)


async def test_cancel_during_continue_as_new(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(
        name="cancel-links",
        maxSteps=LONG,
        loggingSteps=1,
        orchestration={"metricsFlushSeconds": 0.02, "continueAsNewAfterEvents": 30},
    )
    async with runs.worker():
        handle = await runs.start(spec)
        await runs.wait_for_status(handle, lambda status: status.links >= 2, what="two links")
        latest = runs.client.get_workflow_handle_for(TrainingRun.run, handle.id)
        ack = await latest.execute_update(
            TrainingRun.cancel, CancelRequest(reason="mid-chain", requested_by="tester")
        )
        result = await wait_for_result(latest)
    assert ack.backend_status == "cancelled"
    assert result.status is RunStatus.CANCELLED and result.continued_as_new >= 2
    assert_backend_cancelled(inspect, result.job_id)


@pytest.mark.parametrize("variant", ["end", "failed", "unknown"])
async def test_every_post_cancel_stream_variant_ends_cancelled(
    variant: str, runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name=f"post-cancel-{variant}", maxSteps=LONG, backend=emulator_faults(postCancel=variant)
    )
    async with runs.training(spec, step=20) as handle:
        ack = await cancel_run(handle, f"variant {variant}", "tester")
        result = await wait_for_result(handle)
    assert ack is not None and ack.backend_status == "cancelled"
    assert result.status is RunStatus.CANCELLED
    assert_backend_cancelled(inspect, result.job_id)


async def test_worker_sigkill_during_the_cancel_still_cancels(
    runs: Runs, inspect: httpx.Client
) -> None:
    # The backend takes 3 s to answer the cancel: the worker dies inside that window.
    spec = make_spec(
        name="kill-in-cancel",
        maxSteps=LONG,
        backend=emulator_faults(cancelDelaySeconds=3),
        orchestration={"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": 2},
    )
    with runs.worker_process() as victim:
        handle = await runs.start(spec)
        await runs.wait_for_step(handle, 20)
        update = await handle.start_update(
            TrainingRun.cancel,
            CancelRequest(reason="kill me", requested_by="tester"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await asyncio.sleep(1)  # the cancel activity is now waiting on the backend
        os.kill(victim.pid, signal.SIGKILL)
    async with runs.worker():
        ack = await update.result()
        result = await wait_for_result(handle)
    assert ack.backend_status == "cancelled"
    assert result.status is RunStatus.CANCELLED
    # Whether the killed attempt's request landed or not, the backend saw one effective
    # cancel: a retry reads the job first and does not cancel a cancelled job again.
    assert_backend_cancelled(inspect, result.job_id)
    await assert_replays(handle)
