"""``arkor-temporal schedule``: Temporal Schedules that start ordinary training runs."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
from temporalio.client import Client

from arkor_temporal.cli.app import (
    EXIT_BAD_INPUT,
    connected,
    console,
    emit,
    errors,
    fail,
    json_option,
    temporal_options,
)
from arkor_temporal.cli.inputs import load_spec_or_exit, overrides_option, parse_flag, spec_argument
from arkor_temporal.cli.views.schedules import (
    created_text,
    deleted_text,
    schedule_table,
    schedules_table,
    triggered_text,
)
from arkor_temporal.client import schedules
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.links import run_link
from arkor_temporal.core.durations import parse_instant


@click.group()
def schedule() -> None:
    """Scheduled retraining: Temporal Schedules that start ordinary training runs.

    A run name may carry {date}, {time}, {datetime} or {timestamp}; each run
    renders it with its scheduled time (UTC), e.g. `name: nightly-{date}`.
    """


schedule_name = click.argument("name", metavar="NAME")
overlap_choice = click.Choice(list(schedules.OVERLAP_POLICIES))
note_option = click.option("--note", help="Why: shown with the schedule's state.")


@schedule.command("create")
@schedule_name
@spec_argument
@click.option("--cron", help="Cron expression, e.g. '0 2 * * *' (or @daily).")
@click.option("--every", help="Fixed interval, e.g. 30m, 6h, 1d.")
@click.option("--timezone", help="Time zone for --cron, e.g. Europe/Paris (default UTC).")
@click.option(
    "--overlap",
    type=overlap_choice,
    default="skip",
    show_default=True,
    help="What to do when a run is due while the previous one still runs.",
)
@click.option("--pause-on-failure", is_flag=True, help="Pause the schedule after a failed run.")
@click.option("--jitter", help="Random delay up to this duration for each run, e.g. 5m.")
@click.option("--paused", is_flag=True, help="Create it paused.")
@click.option("--note", help="A note shown with the schedule's state.")
@overrides_option()
@json_option
@temporal_options
def schedule_create(
    name: str,
    spec_path: Path,
    cron: str | None,
    every: str | None,
    timezone: str | None,
    overlap: str,
    pause_on_failure: bool,
    jitter: str | None,
    paused: bool,
    note: str | None,
    overrides: tuple[str, ...],
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """Create schedule NAME that runs SPEC with --cron or --every."""
    try:
        schedules.validate_name(name)
        timing = schedules.Timing.parse(cron=cron, every=every, timezone=timezone, jitter=jitter)
    except schedules.ScheduleError as exc:
        fail(exc, EXIT_BAD_INPUT)
    spec = load_spec_or_exit(spec_path, overrides)
    built = schedules.build_schedule(
        spec,
        name=name,
        task_queue=settings.task_queue,
        timing=timing,
        overlap=overlap,
        pause_on_failure=pause_on_failure,
        paused=paused,
        note=note,
    )

    async def go(client: Client) -> schedules.ScheduleView:
        await schedules.create_schedule(client, name, built, timing)
        return await schedules.describe_schedule(client, name)

    view = connected(settings, go)
    emit(as_json, view, created_text(view))


@schedule.command("list")
@json_option
@temporal_options
def schedule_list(as_json: bool, settings: TemporalSettings) -> None:
    """List the training-run schedules."""
    rows = connected(settings, schedules.list_schedules)
    emit(as_json, rows, schedules_table(rows))


@schedule.command("describe")
@schedule_name
@json_option
@temporal_options
def schedule_describe(name: str, as_json: bool, settings: TemporalSettings) -> None:
    """Show a schedule: timing, state and note, the run it starts, next and recent runs.

    Next run times are in the schedule's time zone (--timezone at create; UTC when
    none), each with how far off it is.
    """
    view = connected(settings, lambda client: schedules.describe_schedule(client, name))
    emit(as_json, view, schedule_table(view))


def _act(
    verb: str, action: Callable[[Client], Awaitable[Any]], settings: TemporalSettings, name: str
) -> None:
    """Apply one change to schedule ``name`` and say it was done."""
    connected(settings, action)
    console.print(f"{verb} schedule {name}", highlight=False)


@schedule.command("pause")
@schedule_name
@note_option
@temporal_options
def schedule_pause(name: str, note: str | None, settings: TemporalSettings) -> None:
    """Pause a schedule: no run starts on its own until unpaused."""
    _act("paused", lambda c: schedules.pause_schedule(c, name, note), settings, name)


@schedule.command("unpause")
@schedule_name
@note_option
@temporal_options
def schedule_unpause(name: str, note: str | None, settings: TemporalSettings) -> None:
    """Resume a paused schedule."""
    _act("unpaused", lambda c: schedules.unpause_schedule(c, name, note), settings, name)


@schedule.command("trigger")
@schedule_name
@click.option("--overlap", type=overlap_choice, help="Override the overlap policy for this run.")
@json_option
@temporal_options
def schedule_trigger(
    name: str, overlap: str | None, as_json: bool, settings: TemporalSettings
) -> None:
    """Start the schedule's run now (also when paused; the overlap policy applies).

    Prints the id of the run it started and its Web UI link, or that the run was
    queued behind a running one; exit 2 when the overlap policy skipped it.
    """
    triggered = connected(settings, lambda c: schedules.trigger_schedule(c, name, overlap))
    started = triggered.workflow_id
    link = run_link(settings.address, settings.namespace, started) if started else None
    if triggered.outcome == "skipped" and not as_json:
        fail(triggered_text(triggered), EXIT_BAD_INPUT)
    emit(as_json, {**triggered.model_dump(mode="json"), "web_ui": link}, triggered_text(triggered))
    if link is not None and not as_json:
        errors.print(f"Web UI: {link}", highlight=False, soft_wrap=True)
    if triggered.outcome == "skipped":
        sys.exit(EXIT_BAD_INPUT)


@schedule.command("backfill")
@schedule_name
@click.option("--from", "start", required=True, help="ISO 8601 start, e.g. 2026-11-20.")
@click.option("--to", "end", required=True, help="ISO 8601 end, e.g. 2026-11-27T00:00Z.")
@click.option(
    "--overlap",
    type=overlap_choice,
    default="buffer-all",
    show_default=True,
    help="buffer-all runs the missed runs one after another.",
)
@temporal_options
def schedule_backfill(
    name: str, start: str, end: str, overlap: str, settings: TemporalSettings
) -> None:
    """Start the runs the schedule would have started between --from and --to."""
    start_at = parse_flag("--from", parse_instant, start)
    end_at = parse_flag("--to", parse_instant, end)
    _act(
        "backfilled",
        lambda c: schedules.backfill_schedule(c, name, start_at, end_at, overlap),
        settings,
        name,
    )


@schedule.command("delete")
@schedule_name
@json_option
@temporal_options
def schedule_delete(name: str, as_json: bool, settings: TemporalSettings) -> None:
    """Delete a schedule: runs it started go on (named); queued runs are dropped (counted)."""
    deleted = connected(settings, lambda c: schedules.delete_schedule(c, name))
    emit(as_json, deleted, deleted_text(deleted))
