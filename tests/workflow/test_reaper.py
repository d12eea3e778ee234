"""The orphan reaper finds and cancels jobs whose workflow was terminated, and only those."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import httpx
from temporalio.client import ScheduleActionResult

from arkor_temporal.client.reaper import REAPER_SCHEDULE_ID, install_reaper, reap_now
from arkor_temporal.core.models import ReaperReport
from arkor_temporal.workflows.reaper import OrphanReaper
from tests.support.backend import assert_backend_cancelled, backend_job
from tests.support.runs import Runs, make_spec
from tests.support.waiting import eventually


async def test_reaper_cancels_the_job_of_a_terminated_run_and_spares_live_ones(
    runs: Runs, inspect: httpx.Client
) -> None:
    async with runs.worker():
        doomed = await runs.start(make_spec(name="doomed", maxSteps=3000))
        alive = await runs.start(make_spec(name="alive", maxSteps=3000))
        doomed_status = await runs.wait_for_step(doomed, 10)
        alive_status = await runs.wait_for_step(alive, 10)
        await doomed.terminate("operator pulled the plug")  # no cleanup runs on terminate
        assert backend_job(inspect, str(doomed_status.job_id))["status"] == "running"

        report = await reap_now(runs.client, runs.task_queue)

        assert [o.job_id for o in report.orphans] == [doomed_status.job_id]
        assert report.orphans[0].why == "its workflow is terminated"
        assert [c.status for c in report.cancelled] == ["cancelled"]
        assert_backend_cancelled(inspect, doomed_status.job_id)
        assert backend_job(inspect, str(alive_status.job_id))["status"] == "running"
        await alive.cancel()


async def test_dry_run_only_reports(runs: Runs, inspect: httpx.Client) -> None:
    async with runs.worker():
        handle = await runs.start(make_spec(name="dry", maxSteps=3000))
        status = await runs.wait_for_step(handle, 10)
        await handle.terminate()
        report = await reap_now(runs.client, runs.task_queue, dry_run=True)
        assert status.job_id in [o.job_id for o in report.orphans]
        assert report.cancelled == []
        assert backend_job(inspect, str(status.job_id))["status"] == "running"
        await reap_now(runs.client, runs.task_queue)  # leave no GPU running
        assert backend_job(inspect, str(status.job_id))["status"] == "cancelled"


async def test_reaper_schedule_is_installed_idempotently_and_runs(runs: Runs) -> None:
    assert await install_reaper(runs.client, runs.task_queue, timedelta(hours=1)) == "created"
    assert await install_reaper(runs.client, runs.task_queue, timedelta(minutes=30)) == "updated"
    schedule = runs.client.get_schedule_handle(REAPER_SCHEDULE_ID)

    async def recent_actions() -> Sequence[ScheduleActionResult]:
        return (await schedule.describe()).info.recent_actions

    try:
        async with runs.worker():
            await schedule.trigger()
            actions = await eventually(
                recent_actions,
                within=30,
                interval=0.2,
                what="the reaper schedule to take an action",
            )
            action = actions[0].action
            run = runs.client.get_workflow_handle_for(OrphanReaper.run, action.workflow_id)
            report = await run.result()
        assert (await run.describe()).workflow_type == "OrphanReaper"
        assert isinstance(report, ReaperReport)
        assert [c.job_id for c in report.cancelled] == [o.job_id for o in report.orphans]
    finally:
        await schedule.delete()
