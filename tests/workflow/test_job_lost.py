"""A job the backend forgot ends the run as JobLost, and ``run status`` says why meanwhile."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from arkor_temporal.client.runs import describe_run, wait_for_result
from arkor_temporal.core.models import RunStatus
from arkor_temporal.core.names import FailureType
from tests.support.runs import Runs, slow_spec
from tests.support.waiting import eventually


async def test_a_forgotten_job_fails_the_run_as_job_lost(runs: Runs, inspect: httpx.Client) -> None:
    spec = slow_spec("forgotten", heartbeat_timeout=5)
    spec = spec.model_copy(
        update={
            "orchestration": spec.orchestration.model_copy(update={"job_lost_after_seconds": 10})
        }
    )
    async with runs.worker():
        handle = await runs.start(spec)
        status = await runs.wait_for_step(handle, 20)
        assert status.job_id is not None
        inspect.delete(f"/_emulator/jobs/{status.job_id}").raise_for_status()
        info = await eventually(
            lambda: describe_run(handle),
            lambda info: info.stream_trouble is not None and "404" in info.stream_trouble,
            within=30,
            what="run status showing the backend's 404",
        )
        assert status.job_id in (info.stream_trouble or "")
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == FailureType.JOB_LOST
    result = await wait_for_result(handle)
    assert result.status is RunStatus.FAILED and "no longer knows the job" in result.reason
