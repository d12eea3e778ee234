"""``reaper uninstall`` against the dev server: what it says, and that it may run twice."""

from __future__ import annotations

from temporalio.client import ScheduleActionExecutionStartWorkflow, WorkflowExecutionStatus

from arkor_temporal.client.reaper import REAPER_SCHEDULE_ID, uninstall_reaper
from arkor_temporal.client.schedules import describe_or_none
from tests.support.cli import Command
from tests.support.waiting import eventually


async def test_uninstall_names_the_run_in_flight_and_then_says_not_installed(
    command: Command,
) -> None:
    client = command.client
    schedule = client.get_schedule_handle(REAPER_SCHEDULE_ID)
    assert (await command("reaper", "install", "--every", "1h")).code == 0
    try:
        # No worker polls the test's task queue: the triggered reaper run stays in flight.
        await schedule.trigger()
        described = await eventually(
            schedule.describe,
            lambda d: d.info.running_actions,
            within=20,
            interval=0.2,
            what="the reaper schedule to show a running action",
        )
        [running] = described.info.running_actions
        assert isinstance(running, ScheduleActionExecutionStartWorkflow)

        first = await command("reaper", "uninstall")
        assert first.code == 0, first.stderr
        assert f"deleted schedule {REAPER_SCHEDULE_ID}" in first.stdout
        assert f"its run {running.workflow_id} is in flight" in first.stdout
        assert await describe_or_none(schedule) is None
        run = client.get_workflow_handle(running.workflow_id)
        assert (await run.describe()).status is WorkflowExecutionStatus.RUNNING
        await run.terminate("test over")

        second = await command("reaper", "uninstall")
        assert second.code == 0, second.stderr
        assert "the reaper is not installed" in second.stdout
    finally:
        await uninstall_reaper(client)  # other tests install it afresh
