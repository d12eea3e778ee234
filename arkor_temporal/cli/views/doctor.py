"""The view of ``doctor``: a table of checks (✓ ok, ! warning, ✗ failure) and a summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from arkor_temporal.client.doctor import Check, Status

_MARKS = {
    Status.OK: Text("✓", style="green"),
    Status.WARN: Text("!", style="yellow"),
    Status.FAIL: Text("✗", style="red"),
}


def checks_table(checks: Sequence[Check]) -> Table:
    table = Table("", "check", "detail", "fix")
    for check in checks:
        # Text, not markup: a detail may hold brackets ("[local]") or rich's own syntax.
        table.add_row(
            _MARKS[check.status], Text(check.name), Text(check.detail), Text(check.fix or "")
        )
    return table


def summary_text(checks: Sequence[Check]) -> str:
    counts = Counter(check.status for check in checks)
    if counts[Status.OK] == len(checks):
        return f"all {len(checks)} checks passed"
    parts = [f"{counts[Status.FAIL]} failed"] if counts[Status.FAIL] else []
    if counts[Status.WARN]:
        parts.append(f"{counts[Status.WARN]} warning{'s' if counts[Status.WARN] > 1 else ''}")
    return f"{', '.join(parts)} of {len(checks)} checks"
