"""Installing and running the orphan reaper (see :mod:`arkor_temporal.workflows.reaper`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from arkor_temporal.client.schedules import Deleted, delete_described, describe_or_none
from arkor_temporal.core.models import ReaperInput, ReaperReport
from arkor_temporal.core.names import WorkflowName

REAPER_SCHEDULE_ID = "arkor-orphan-reaper"


def reaper_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WorkflowName.ORPHAN_REAPER,
            ReaperInput(),
            id="arkor-orphan-reaper",
            task_queue=task_queue,
            static_summary="Cancel backend jobs whose training-run workflow is gone",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def install_reaper(client: Client, task_queue: str, every: timedelta) -> str:
    """Create the reaper's schedule, or update it in place; return "created" or "updated"."""
    schedule = reaper_schedule(task_queue, every)
    try:
        await client.create_schedule(REAPER_SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(REAPER_SCHEDULE_ID).update(replace)
        return "updated"


async def uninstall_reaper(client: Client) -> Deleted | None:
    """Delete the reaper's schedule; None when it is not installed.

    A reaper run in flight finishes its pass (``still_running`` names it).
    """
    handle = client.get_schedule_handle(REAPER_SCHEDULE_ID)
    description = await describe_or_none(handle)
    return None if description is None else await delete_described(handle, description)


async def reap_now(client: Client, task_queue: str, *, dry_run: bool = False) -> ReaperReport:
    """Run the reaper once and wait for its report."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    report: ReaperReport = await client.execute_workflow(
        WorkflowName.ORPHAN_REAPER,
        ReaperInput(dry_run=dry_run),
        result_type=ReaperReport,
        id=f"arkor-orphan-reaper-manual-{stamp}",
        task_queue=task_queue,
    )
    return report
