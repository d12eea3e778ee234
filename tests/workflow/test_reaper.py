"""The orphan reaper finds and cancels jobs whose workflow was terminated, and only those."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.reaper import REAPER_SCHEDULE_ID, install_reaper, reap_now
from arkor_temporal.core.models import ReaperReport
from arkor_temporal.workflows.reaper import OrphanReaper
from tests.helpers import make_spec, wait_for_step
from tests.workflow.test_cancel import assert_backend_cancelled, backend_job
from tests.workflow.test_training_run import running_worker, start


async def test_reaper_cancels_the_job_of_a_terminated_run_and_spares_live_ones(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    async with running_worker(temporal_client, cloud_context, task_queue):
        doomed = await start(temporal_client, make_spec(name="doomed", maxSteps=3000), task_queue)
        alive = await start(temporal_client, make_spec(name="alive", maxSteps=3000), task_queue)
        doomed_status = await wait_for_step(temporal_client, doomed.id, 10)
        alive_status = await wait_for_step(temporal_client, alive.id, 10)
        await doomed.terminate("operator pulled the plug")  # no cleanup runs on terminate
        assert backend_job(inspect, str(doomed_status.job_id))["status"] == "running"

        report = await reap_now(temporal_client, task_queue)

        assert [o.job_id for o in report.orphans] == [doomed_status.job_id]
        assert report.orphans[0].why == "its workflow is terminated"
        assert [c.status for c in report.cancelled] == ["cancelled"]
        assert_backend_cancelled(inspect, doomed_status.job_id)
        assert backend_job(inspect, str(alive_status.job_id))["status"] == "running"
        await alive.cancel()


async def test_dry_run_only_reports(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, make_spec(name="dry", maxSteps=3000), task_queue)
        status = await wait_for_step(temporal_client, handle.id, 10)
        await handle.terminate()
        report = await reap_now(temporal_client, task_queue, dry_run=True)
        assert status.job_id in [o.job_id for o in report.orphans]
        assert report.cancelled == []
        assert backend_job(inspect, str(status.job_id))["status"] == "running"
        await reap_now(temporal_client, task_queue)  # leave no GPU running
        assert backend_job(inspect, str(status.job_id))["status"] == "cancelled"


async def test_reaper_schedule_is_installed_idempotently_and_runs(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str
) -> None:
    assert await install_reaper(temporal_client, task_queue, timedelta(hours=1)) == "created"
    assert await install_reaper(temporal_client, task_queue, timedelta(minutes=30)) == "updated"
    schedule = temporal_client.get_schedule_handle(REAPER_SCHEDULE_ID)
    try:
        async with running_worker(temporal_client, cloud_context, task_queue):
            await schedule.trigger()
            async with asyncio.timeout(30):
                while not (await schedule.describe()).info.recent_actions:
                    await asyncio.sleep(0.2)
            action = (await schedule.describe()).info.recent_actions[0].action
            run = temporal_client.get_workflow_handle_for(OrphanReaper.run, action.workflow_id)
            report = await run.result()
        assert (await run.describe()).workflow_type == "OrphanReaper"
        assert isinstance(report, ReaperReport)
        assert [c.job_id for c in report.cancelled] == [o.job_id for o in report.orphans]
    finally:
        await schedule.delete()
