"""Every ``schedule`` verb against the dev server; triggered runs go through a real worker."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from arkor_temporal.client.links import run_link
from arkor_temporal.client.runs import get_run, wait_for_result
from arkor_temporal.core.models import RunStatus
from arkor_temporal.core.search_attributes import RUN_NAME
from tests.support.cli import POLL_INTERVAL, Command, Completed, write_spec
from tests.support.runs import Runs
from tests.support.waiting import eventually


def schedule_name() -> str:
    return f"sched-{uuid.uuid4().hex[:8]}"


class Schedules:
    """The CLI's schedule verbs, bound to one test's client and task queue."""

    def __init__(self, command: Command) -> None:
        self.command = command

    async def __call__(self, *args: str) -> Completed:
        return await self.command("schedule", *args)

    async def describe(self, name: str) -> dict:
        described: dict = (await self("describe", name, "--json")).json()
        return described

    async def describe_when(
        self, name: str, ready: Callable[[dict], object], what: str, within: float = 20
    ) -> dict:
        """``describe`` until ``ready`` accepts the view (``what`` it shows then)."""
        return await eventually(
            lambda: self.describe(name),
            ready,
            within=within,
            interval=POLL_INTERVAL,
            what=f"schedule {name} to show {what}",
        )

    async def trigger(self, name: str, *flags: str) -> dict:
        """``trigger --json``: what became of the trigger (it waits until that shows)."""
        triggered: dict = (await self("trigger", name, "--json", *flags)).json()
        return triggered

    async def triggered_action(self, name: str) -> dict:
        """Trigger the schedule: the action it shows for the run the trigger reported."""
        triggered = await self.trigger(name)
        assert triggered["outcome"] == "started", triggered
        actions = (await self.describe(name))["recent_actions"]
        [action] = [a for a in actions if a["workflow_id"] == triggered["workflow_id"]]
        return action

    async def clean_up(self, name: str) -> None:
        """Delete the schedule and terminate what it left running (no worker may be left)."""
        running = (await self.describe(name))["running"]
        assert (await self("delete", name)).code == 0
        for workflow_id in running:
            await self.command.client.get_workflow_handle(workflow_id).terminate("test over")


@pytest.fixture
def schedules(command: Command) -> Schedules:
    return Schedules(command)


async def test_create_describe_list_trigger_delete(
    schedules: Schedules, runs: Runs, command: Command, tmp_path: Path
) -> None:
    name, spec = schedule_name(), write_spec(tmp_path, maxSteps=40)
    created = await schedules("create", name, str(spec), "--every", "1h", "--json")
    assert created.code == 0, created.stderr
    view = created.json()
    assert (view["timing"], view["overlap"], view["paused"]) == ("every 1:00:00", "skip", False)
    assert len(view["next_action_times"]) >= 3 and view["recent_actions"] == []
    assert view["summary"].startswith(f"[{name}] Fine-tune cli-")
    assert view["workflow_id_prefix"] == f"train-{name}" and view["task_queue"] == runs.task_queue

    await eventually(
        lambda: schedules("list", "--json"),
        lambda done: name in [row["name"] for row in done.json()],
        within=20,
        interval=POLL_INTERVAL,
        what=f"`schedule list` to show {name}",
    )
    assert name in (await schedules("list")).stdout

    async with runs.worker():
        workflow_id = (await schedules.triggered_action(name))["workflow_id"]
        assert workflow_id.startswith(f"train-{name}-")
        result = await wait_for_result(get_run(runs.client, workflow_id))
    assert result.status is RunStatus.COMPLETED and result.metrics.steps == 40
    status = (await command("run", "status", workflow_id, "--json")).json()
    assert status["summary"] == view["summary"], "a scheduled run is an ordinary run"
    text = await schedules("describe", name)
    assert workflow_id in text.stdout and "every 1:00:00" in text.stdout
    assert f"[{name}] Fine-tune cli-" in text.stdout, "the summary is not taken for markup"

    deleted = await schedules("delete", name, "--json")
    assert deleted.code == 0, deleted.stderr
    assert deleted.json() == {"schedule": name, "still_running": [], "dropped_queued": 0}
    gone = await schedules("describe", name)
    assert gone.code == 2 and f"no schedule named '{name}'" in gone.stderr


async def test_paused_schedule_starts_nothing_until_unpaused(
    schedules: Schedules, tmp_path: Path
) -> None:
    name = schedule_name()
    spec = str(write_spec(tmp_path))
    # allow-all: a run left open by an early firing must not turn later ones into skips
    created = await schedules("create", name, spec, "--every", "1s", "--overlap", "allow-all")
    assert created.code == 0, created.stderr
    paused = await schedules("pause", name, "--note", "data refresh pending")
    assert paused.code == 0 and f"paused schedule {name}" in paused.stdout
    taken = (await schedules.describe(name))["actions_taken"]
    await asyncio.sleep(3)
    view = await schedules.describe(name)
    assert (view["paused"], view["note"]) == (True, "data refresh pending")
    assert view["actions_taken"] == taken, "a paused schedule starts no run"
    assert (await schedules("unpause", name)).code == 0
    resumed = await schedules.describe_when(
        name, lambda v: v["actions_taken"] > taken, "a new action"
    )
    assert not resumed["paused"]
    await schedules.clean_up(name)


async def test_trigger_names_its_run_and_overlap_skip_refuses_a_second_one(
    schedules: Schedules, command: Command, tmp_path: Path
) -> None:
    # No worker polls this task queue: the first run stays open, so the second overlaps.
    name = schedule_name()
    assert (await schedules("create", name, str(write_spec(tmp_path)), "--every", "1d")).code == 0
    first = await schedules("trigger", name)
    assert first.code == 0, first.stderr
    [workflow_id] = re.findall(rf"started (train-{name}-\S+)", first.stdout)
    run = await command.client.get_workflow_handle(workflow_id).describe()
    assert run.workflow_type == "TrainingRun" and run.status is WorkflowExecutionStatus.RUNNING
    address, namespace = command.client.service_client.config.target_host, command.client.namespace
    assert f"Web UI: {run_link(address, namespace, workflow_id, {})}" in first.stderr

    second = await schedules("trigger", name)
    assert second.code == 2, (second.stdout, second.stderr)
    assert f"started no run: overlap skip and {workflow_id} is still running" in second.stderr
    assert "Web UI" not in second.stderr
    as_json = await schedules("trigger", name, "--json")
    assert as_json.code == 2 and as_json.json()["outcome"] == "skipped", as_json.stdout
    view = await schedules.describe(name)
    assert (view["actions_taken"], view["running"], view["skipped_overlap"]) == (
        1,
        [workflow_id],
        2,
    )
    await schedules.clean_up(name)


async def test_delete_keeps_started_runs_running_and_drops_the_queued_ones(
    schedules: Schedules, command: Command, tmp_path: Path
) -> None:
    # No worker: the started run stays open, so buffer-one queues the next trigger behind it.
    name, spec = schedule_name(), str(write_spec(tmp_path))
    created = await schedules("create", name, spec, "--every", "1d", "--overlap", "buffer-one")
    assert created.code == 0, created.stderr
    started = await schedules.trigger(name)
    assert started["outcome"] == "started" and started["web_ui"], started
    queued = await schedules.trigger(name)
    assert (queued["outcome"], queued["workflow_id"], queued["web_ui"]) == ("queued", None, None)
    assert queued["running"] == [started["workflow_id"]]
    assert (await schedules.describe(name))["queued"] == 1

    deleted = await schedules("delete", name)
    assert deleted.code == 0, deleted.stderr
    assert (
        f"1 run it started keeps running (deleting a schedule stops no run): "
        f"{started['workflow_id']}" in deleted.stdout
    )
    assert "1 queued run dropped" in deleted.stdout
    run = command.client.get_workflow_handle(started["workflow_id"])
    assert (await run.describe()).status is WorkflowExecutionStatus.RUNNING
    await run.terminate("test over")


async def test_next_runs_are_given_in_the_schedules_time_zone(
    schedules: Schedules, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path))
    tokyo, utc = schedule_name(), schedule_name()
    for name, zone in ((tokyo, ("--timezone", "Asia/Tokyo")), (utc, ())):
        created = await schedules("create", name, spec, "--cron", "0 2 * * *", "--paused", *zone)
        assert created.code == 0, created.stderr
    view = await schedules.describe(tokyo)
    assert view["timezone"] == "Asia/Tokyo" and view["next_action_times"]
    assert all(t.endswith("T02:00:00+09:00") for t in view["next_action_times"]), view
    assert (await schedules.describe(utc))["next_action_times"][0].endswith("T02:00:00Z")
    text = (await schedules("describe", tokyo)).stdout
    assert re.search(r"next runs \(Asia/Tokyo\).*02:00:00\+09:00 \(in \d+ (h|min)", text), text
    rows = await eventually(
        lambda: schedules("list", "--json"),
        lambda done: {tokyo, utc} <= {row["name"] for row in done.json()},
        within=20,
        interval=POLL_INTERVAL,
        what=f"`schedule list` to show {tokyo} and {utc}",
    )
    listed = {row["name"]: row for row in rows.json()}
    assert (listed[tokyo]["timezone"], listed[utc]["timezone"]) == ("Asia/Tokyo", "UTC")
    assert listed[tokyo]["next_action_times"][0].endswith("T02:00:00+09:00"), listed[tokyo]
    for name in (tokyo, utc):
        await schedules.clean_up(name)


async def test_backfill_runs_the_missed_intervals_one_after_another(
    schedules: Schedules, runs: Runs, tmp_path: Path
) -> None:
    name = schedule_name()
    assert (await schedules("create", name, str(write_spec(tmp_path)), "--every", "1h")).code == 0
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    start, end = hour + timedelta(minutes=30), hour + timedelta(hours=2, minutes=30)  # 2 hours
    async with runs.worker():
        done = await schedules(
            "backfill", name, "--from", start.isoformat(), "--to", end.isoformat()
        )
        assert done.code == 0, done.stderr
        view = await schedules.describe_when(
            name,
            lambda v: len(v["recent_actions"]) == 2 and not v["running"],
            "two finished actions",
            within=30,
        )
    ids = [action["workflow_id"] for action in view["recent_actions"]]
    assert len(ids) == 2 and all(i.startswith(f"train-{name}-") for i in ids)
    assert all(i.endswith(":00:00Z") for i in ids), "named after the scheduled hours"
    for workflow_id in ids:
        result = await wait_for_result(get_run(runs.client, workflow_id))
        assert result.status is RunStatus.COMPLETED
    await schedules.clean_up(name)


async def test_bad_schedule_arguments_are_refused_clearly(
    schedules: Schedules, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path))
    cases = {
        ("--cron", "61 * * * *"): "--cron '61 * * * *': Temporal refused it",
        ("--cron", "every day"): "--cron 'every day' is not a cron expression",
        ("--every", "5x"): "--every: '5x' is not a duration",
        ("--every", "1h", "--cron", "@daily"): "exactly one of --cron",
        ("--cron", "@daily", "--timezone", "Mars/Olympus"): "--timezone 'Mars/Olympus'",
        ("--every", "1h", "--jitter", "soon"): "--jitter",
    }
    for flags, message in cases.items():
        done = await schedules("create", schedule_name(), spec, *flags)
        assert done.code == 2, (flags, done.stderr)
        assert message in done.stderr, (flags, done.stderr)
    missing = await schedules(
        "create", schedule_name(), str(tmp_path / "nope.yaml"), "--every", "1h"
    )
    assert missing.code == 2 and "file not found" in missing.stderr
    name = schedule_name()
    assert (await schedules("create", name, spec, "--cron", "0 2 * * *", "--paused")).code == 0
    again = await schedules("create", name, spec, "--every", "1h")
    assert again.code == 2 and f"a schedule named '{name}' exists" in again.stderr
    backwards = await schedules("backfill", name, "--from", "2026-01-02", "--to", "2026-01-01")
    assert backwards.code == 2 and "--to must be later than --from" in backwards.stderr
    assert (await schedules.describe(name))["timing"] == "cron '0 2 * * *'"
    await schedules.clean_up(name)
    for verb in ("describe", "pause", "unpause", "trigger", "delete"):
        unknown = await schedules(verb, "no-such-schedule")
        assert unknown.code == 2 and "no schedule named 'no-such-schedule'" in unknown.stderr


async def test_scheduled_run_names_are_rendered_with_the_scheduled_time(
    schedules: Schedules, runs: Runs, tmp_path: Path
) -> None:
    name, spec = schedule_name(), write_spec(tmp_path, maxSteps=20)
    created = await schedules(
        "create", name, str(spec), "--every", "1h", "--set", "name=nightly-{date}"
    )
    assert created.code == 0, created.stderr
    try:
        async with runs.worker():
            action = await schedules.triggered_action(name)
            handle = get_run(runs.client, action["workflow_id"])
            result = await wait_for_result(handle)
        scheduled = datetime.fromisoformat(action["scheduled_at"]).astimezone(UTC)
        assert result.run_name == f"nightly-{scheduled:%Y-%m-%d}"
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(RUN_NAME) == result.run_name
    finally:
        await schedules("delete", name)
