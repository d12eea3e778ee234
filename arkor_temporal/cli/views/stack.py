"""The view of the local stack: each part, its address, whether it answers, what to do."""

from __future__ import annotations

from arkor_temporal.dev.stack import StackStatus

STATE_LINES = {
    "running": "running",
    "partial": "partly running",
    "stopped": "not running",
}
NEXT_STEP = {
    "running": "stop it with `arkor-temporal dev down`",
    "partial": (
        "`arkor-temporal dev up` starts what is missing; the logs are in {dir} "
        "(`arkor-temporal dev down` stops the rest)"
    ),
    "stopped": "start it with `arkor-temporal dev up`",
}


def stack_status_text(status: StackStatus, shown_dir: str) -> str:
    """A line per part (name, pid, address, what its probe found), the Web UI, the next step."""
    rows = [
        (c.name, f"pid {c.pid}" if c.pid is not None else "-", c.address, c.detail)
        for c in status.components
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"local stack in {shown_dir}: {STATE_LINES[status.state]}"]
    lines += [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[3]
        for row in rows
    ]
    if status.state != "stopped":
        lines.append(f"Temporal Web UI: {status.ui_url}")
    lines.append(NEXT_STEP[status.state].format(dir=shown_dir))
    return "\n".join(lines)
