"""End-to-end: training runs on a real Temporal dev server and the real emulator."""

from __future__ import annotations

import httpx
from temporalio.exceptions import ApplicationError

from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.models import RunStatus
from tests.support.backend import assert_completed_exactly_once, assert_exactly_once
from tests.support.replay import assert_replays
from tests.support.runs import Runs, make_spec


async def test_completed_run(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(name="completes", maxSteps=60, saveSteps=20)
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    assert [c.step for c in result.checkpoints] == [20, 40, 60]
    assert result.metrics.steps == 60
    assert result.artifacts, "the completed event's artifacts reach the result"
    assert result.metrics.last_loss is not None and result.metrics.min_loss is not None
    assert result.series and result.series[-1].step == 60
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(sa.JOB_ID) == result.job_id
    assert attributes.get(sa.PHASE) == "completed"
    assert attributes.get(sa.RUN_NAME) == "completes"
    assert attributes.get(sa.STEP) == 60
    assert await description.static_summary() is not None
    await assert_replays(handle)


async def test_failed_run_fails_the_workflow_with_its_result(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="fails",
        maxSteps=80,
        backend={"emulator": {"scenario": "fail", "atStep": 30, "error": "CUDA out of memory"}},
    )
    handle, failure, result = await runs.run_to_failure(spec)
    cause = failure.cause
    assert isinstance(cause, ApplicationError) and cause.type == "TrainingFailed"
    assert cause.non_retryable
    assert result.status is RunStatus.FAILED
    assert "CUDA out of memory" in result.reason
    assert result.metrics.steps < 30
    assert_exactly_once(result, inspect, handle)
    await assert_replays(handle)


async def test_diverging_run_still_completes(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(
        name="diverges", maxSteps=80, backend={"emulator": {"scenario": "diverge", "atStep": 40}}
    )
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    assert result.metrics.min_loss is not None
    # The series keeps the diverged losses (the last log is HF's summary: a mean).
    assert max(p.loss for p in result.series if p.loss) > 2 * result.metrics.min_loss
