"""Views of the reaper: one pass (what it checked, found and cancelled), an uninstall."""

from __future__ import annotations

from arkor_temporal.client.reaper import REAPER_SCHEDULE_ID
from arkor_temporal.client.schedules import Deleted
from arkor_temporal.core.models import ReaperReport


def report_text(report: ReaperReport) -> str:
    lines = [f"checked {report.checked} running job(s) of ours; {len(report.orphans)} orphan(s)"]
    lines += [f"  {o.job_id} ({o.job_status}): {o.why}" for o in report.orphans]
    lines += [f"  cancelled {c.job_id}: backend says {c.status}" for c in report.cancelled]
    return "\n".join(lines)


def uninstalled_text(deleted: Deleted | None) -> str:
    """``reaper uninstall``: done or nothing to do, and whether a reaper run was in flight."""
    if deleted is None:
        return f"the reaper is not installed (no schedule {REAPER_SCHEDULE_ID}); nothing to do"
    in_flight = (
        f"its run {', '.join(deleted.still_running)} is in flight and finishes its pass"
        if deleted.still_running
        else "no reaper run was in flight"
    )
    return f"uninstalled the reaper: deleted schedule {deleted.schedule}; {in_flight}"
