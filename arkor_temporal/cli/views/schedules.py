"""Views of schedules: the ``schedule describe`` panel, the list, upcoming run times, and
what a trigger or a delete did."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from arkor_temporal.client.schedules import (
    TRIGGER_WAIT,
    Deleted,
    ScheduleRow,
    ScheduleView,
    Triggered,
)

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def relative_time(moment: datetime, now: datetime) -> str:
    """How far ``moment`` is from ``now``: ``in 6 h``, ``in 2 h 30 min``, ``12 min ago``.

    The largest unit that is not zero and the one below it (when not zero), rounded
    down; under a second is ``now``.
    """
    seconds = int((moment - now).total_seconds())
    if seconds == 0:
        return "now"
    counts, rest = [], abs(seconds)
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        counts.append((count, unit))
    first = next(i for i, (count, _) in enumerate(counts) if count)
    span = " ".join(f"{count} {unit}" for count, unit in counts[first : first + 2] if count)
    return f"in {span}" if seconds > 0 else f"{span} ago"


def next_runs(row: ScheduleRow, count: int, now: datetime, sep: str = ", ") -> str:
    """The next ``count`` times in the schedule's zone, each with how far off it is."""
    upcoming = row.next_action_times[:count]
    shown = (
        f"{t.isoformat(sep=' ', timespec='seconds')} ({relative_time(t, now)})" for t in upcoming
    )
    return sep.join(shown) or "none"


def _runs(count: int, what: str = "run") -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def created_text(view: ScheduleView, now: datetime | None = None) -> str:
    upcoming = next_runs(view, 1, now or datetime.now(UTC))
    return f"created schedule {view.name}: {view.timing}; next run ({view.timezone}): {upcoming}"


def schedules_table(rows: Sequence[ScheduleRow], now: datetime | None = None) -> RenderableType:
    """``schedule list``: one line per schedule, or a note when there is none."""
    if not rows:
        return "no schedules"
    at = now or datetime.now(UTC)
    table = Table("name", "when", "state", "time zone", "next runs", "last run")
    for row in rows:
        last = row.recent_actions[-1].workflow_id if row.recent_actions else "-"
        state = f"paused ({escape(row.note or '-')})" if row.paused else "active"
        table.add_row(row.name, row.timing, state, row.timezone, next_runs(row, 2, at, "\n"), last)
    return table


def schedule_table(view: ScheduleView, now: datetime | None = None) -> RenderableType:
    """``schedule describe``: timing, state, the run it starts, next and recent runs."""
    table = Table(title=f"schedule {view.name}", show_header=False)
    table.add_row("when", view.timing)
    table.add_row("state", "paused" if view.paused else "active")
    table.add_row("note", escape(view.note or "-"))
    table.add_row("overlap", view.overlap + (", pause on failure" if view.pause_on_failure else ""))
    table.add_row("runs", f"{view.run_name} on {view.model} ({view.max_steps or '?'} steps)")
    # Escaped: a summary reads "[schedule] ...", which rich would take for markup.
    table.add_row("summary", escape(view.summary or "-"))
    table.add_row("workflow ids", f"{view.workflow_id_prefix}-<scheduled time>")
    table.add_row("task queue", view.task_queue)
    table.add_row(
        f"next runs ({view.timezone})", next_runs(view, 5, now or datetime.now(UTC), "\n")
    )
    table.add_row(
        "recent runs",
        "\n".join(f"{a.workflow_id} (at {a.started_at:%H:%M:%S})" for a in view.recent_actions)
        or "none",
    )
    table.add_row("running", ", ".join(view.running) or "none")
    table.add_row("queued", _runs(view.queued) if view.queued else "none")
    table.add_row("taken / skipped", f"{view.actions_taken} / {view.skipped_overlap} (overlap)")
    return table


def triggered_text(triggered: Triggered) -> str:
    """What became of ``schedule trigger``: the run it started, or why none started (yet)."""
    name, overlap = triggered.schedule, triggered.overlap
    running = ", ".join(triggered.running) or "a run"
    if triggered.outcome == "started":
        return f"triggered schedule {name}: started {triggered.workflow_id}"
    if triggered.outcome == "queued":
        return (
            f"triggered schedule {name}: queued behind {running} (overlap {overlap}); "
            "it starts when the runs ahead of it end"
        )
    if triggered.outcome == "skipped":
        return (
            f"schedule {name} started no run: overlap {overlap} and {running} is still running; "
            "wait for it, cancel it, or trigger with --overlap buffer-one"
        )
    return (
        f"triggered schedule {name}, but no run showed up within {TRIGGER_WAIT:g} s; "
        f"`arkor-temporal schedule describe {name}` shows its recent runs"
    )


def deleted_text(deleted: Deleted) -> str:
    """``schedule delete``: the runs it leaves running (named) and the queued ones it dropped."""
    running = deleted.still_running
    keep = "keeps" if len(running) == 1 else "keep"
    kept = (
        f"{_runs(len(running))} it started {keep} running (deleting a schedule stops no run): "
        + ", ".join(running)
        if running
        else "no run it started is running"
    )
    dropped = deleted.dropped_queued
    lost = f"{_runs(dropped, 'queued run')} dropped" if dropped else "no queued run dropped"
    return f"deleted schedule {deleted.schedule}\n{kept}\n{lost}"
