"""Views of schedules: the ``schedule describe`` panel, the list, upcoming run times."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.table import Table

from arkor_temporal.client.schedules import ScheduleRow, ScheduleView


def next_runs(row: ScheduleRow, count: int = 3) -> str:
    """The next ``count`` scheduled times (UTC), or ``none``."""
    upcoming = row.next_action_times[:count]
    return ", ".join(f"{t:%Y-%m-%d %H:%M:%S}Z" for t in upcoming) or "none"


def created_text(view: ScheduleView) -> str:
    return f"created schedule {view.name}: {view.timing}; next {next_runs(view)}"


def schedules_table(rows: Sequence[ScheduleRow]) -> RenderableType:
    """``schedule list``: one line per schedule, or a note when there is none."""
    if not rows:
        return "no schedules"
    table = Table("name", "when", "state", "next runs", "last run")
    for row in rows:
        last = row.recent_actions[-1].workflow_id if row.recent_actions else "-"
        state = f"paused ({row.note})" if row.paused else "active"
        table.add_row(row.name, row.timing, state, next_runs(row, 2), last)
    return table


def schedule_table(view: ScheduleView) -> RenderableType:
    """``schedule describe``: timing, state, the run it starts, next and recent runs."""
    table = Table(title=f"schedule {view.name}", show_header=False)
    table.add_row("when", view.timing)
    table.add_row("state", "paused" if view.paused else "active")
    table.add_row("note", view.note or "-")
    table.add_row("overlap", view.overlap + (", pause on failure" if view.pause_on_failure else ""))
    table.add_row("runs", f"{view.run_name} on {view.model} ({view.max_steps or '?'} steps)")
    table.add_row("summary", view.summary or "-")
    table.add_row("workflow ids", f"{view.workflow_id_prefix}-<scheduled time>")
    table.add_row("task queue", view.task_queue)
    table.add_row("next runs", next_runs(view, 5))
    table.add_row(
        "recent runs",
        "\n".join(f"{a.workflow_id} (at {a.started_at:%H:%M:%S})" for a in view.recent_actions)
        or "none",
    )
    table.add_row("running", ", ".join(view.running) or "none")
    table.add_row("taken / skipped", f"{view.actions_taken} / {view.skipped_overlap} (overlap)")
    return table
