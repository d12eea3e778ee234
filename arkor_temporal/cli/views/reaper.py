"""The view of one reaper pass: what it checked, the orphans it found, what it cancelled."""

from __future__ import annotations

from arkor_temporal.core.models import ReaperReport


def report_text(report: ReaperReport) -> str:
    lines = [f"checked {report.checked} running job(s) of ours; {len(report.orphans)} orphan(s)"]
    lines += [f"  {o.job_id} ({o.job_status}): {o.why}" for o in report.orphans]
    lines += [f"  cancelled {c.job_id}: backend says {c.status}" for c in report.cancelled]
    return "\n".join(lines)
