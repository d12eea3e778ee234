"""``arkor-temporal reaper``: cancel backend jobs whose training-run workflow is gone."""

from __future__ import annotations

import click

from arkor_temporal.cli.app import connected, console, emit, json_option, temporal_options
from arkor_temporal.cli.inputs import parse_flag
from arkor_temporal.cli.views.reaper import report_text, uninstalled_text
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.reaper import (
    REAPER_SCHEDULE_ID,
    install_reaper,
    reap_now,
    uninstall_reaper,
)
from arkor_temporal.core.durations import parse_duration


@click.group()
def reaper() -> None:
    """Cancel backend jobs whose training-run workflow is gone (e.g. terminated)."""


@reaper.command("install")
@click.option("--every", default="10m", show_default=True, help="How often it runs.")
@temporal_options
def reaper_install(every: str, settings: TemporalSettings) -> None:
    """Create (or update) the reaper's Temporal Schedule."""
    interval = parse_flag("--every", parse_duration, every)
    done = connected(settings, lambda c: install_reaper(c, settings.task_queue, interval))
    console.print(f"reaper schedule {REAPER_SCHEDULE_ID} {done}: every {every}")


@reaper.command("uninstall")
@temporal_options
def reaper_uninstall(settings: TemporalSettings) -> None:
    """Delete the reaper's schedule; a reaper run in flight finishes its pass.

    Says so and exits 0 when the reaper is not installed.
    """
    console.print(uninstalled_text(connected(settings, uninstall_reaper)), highlight=False)


@reaper.command("run")
@click.option("--dry-run", is_flag=True, help="Report orphans without cancelling them.")
@json_option
@temporal_options
def reaper_run(dry_run: bool, as_json: bool, settings: TemporalSettings) -> None:
    """Run the reaper once now and print what it found and did."""
    report = connected(settings, lambda c: reap_now(c, settings.task_queue, dry_run=dry_run))
    emit(as_json, report, report_text(report))
