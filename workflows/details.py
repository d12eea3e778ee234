"""What the Web UI shows as a run's current details: markdown rendered from the run's state.

Pure functions of what they are given. The length is bounded whatever the run
does: the evaluations list keeps at most ``max_rows`` items and clips free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.core.durations import clock
    from arkor_temporal.core.evals import CheckpointEval, best_checkpoint, clip
    from arkor_temporal.core.models import JobRef, RunProgressState, StopDecision
    from arkor_temporal.core.spec import RunSpec


def details_markdown(
    spec: RunSpec,
    progress: RunProgressState,
    *,
    job: JobRef | None,
    stop: StopDecision | None,
    links: int,
    now_epoch: float,
    outcome: tuple[str, str] | None = None,
) -> str:
    """Progress, losses, checkpoints, evaluations, the stop in effect and, at the end, the outcome.

    Refreshed whenever the workflow acts; between those moments the stream's heartbeat
    details carry the live step (the Web UI's pending activity). Markdown the Web UI
    renders: a paragraph, a blank line, then lists (no tables, which it runs together).
    """
    summary = progress.summary
    headline = f"**{spec.name}** · phase **{progress.phase.value}**"
    if outcome is not None:
        headline = f"**{spec.name}** · **{outcome[0]}**: {outcome[1]}"
    lines = [
        headline,
        "",
        f"- job: `{job.job_id if job else '-'}`",
        f"- progress: {_progress(spec, progress, now_epoch)}",
        f"- loss: last {_number(summary.last_loss)} · best {_number(summary.min_loss)}",
    ]
    if summary.last_eval_loss is not None:
        lines.append(
            f"- eval loss: last {_number(summary.last_eval_loss)} · "
            f"best {_number(summary.min_eval_loss)}"
        )
    checkpoints = ", ".join(str(c.step) for c in progress.checkpoints) or "none yet"
    lines.append(f"- checkpoints: {checkpoints}")
    best = best_checkpoint(progress.evals)
    if progress.evals:
        latest = max(progress.evals, key=lambda e: e.step)
        lines.append(f"- latest eval: {_eval_line(latest)}")
    if best is not None:
        lines.append(f"- best checkpoint: step **{best.step}** (score {best.score or 0.0:.3f})")
    if stop is not None:
        lines.append(f"- stop: {stop.reason} (by {stop.requested_by})")
    if links:
        lines.append(f"- continued as new: {links} times")
    if progress.evals:
        lines += ["", "**evaluations**", "", evals_markdown(progress.evals)]
    return "\n".join(lines)


def _progress(spec: RunSpec, progress: RunProgressState, now_epoch: float) -> str:
    """``step 120/1000 (12%) · 0:12:03 training · 0.17 steps/s · ETA 1:26:00``."""
    steps = progress.summary.steps
    text = f"step {steps}"
    if spec.max_steps:
        text += f"/{spec.max_steps} ({100 * steps / spec.max_steps:.0f}%)"
    started = _epoch(progress.started_at)
    if started is None:
        return text
    elapsed = max(0.0, now_epoch - started)
    text += f" · {clock(elapsed)} training"
    if steps and elapsed > 0:
        rate = steps / elapsed
        text += f" · {rate:.2f} steps/s"
        if spec.max_steps and steps < spec.max_steps and progress.terminal_event is None:
            text += f" · ETA {clock((spec.max_steps - steps) / rate)}"
    return text


def _epoch(timestamp: str | None) -> float | None:
    try:
        return datetime.fromisoformat(timestamp or "").timestamp()
    except ValueError:
        return None


def _eval_line(e: CheckpointEval) -> str:
    if e.error is not None:
        return f"step {e.step} · error: {_cell(e.error)}"
    delta = f" · {e.delta:+.3f} vs base" if e.delta is not None else ""
    return f"step {e.step} · score {e.score or 0.0:.3f} · {e.passed_cases}/{e.total} cases{delta}"


def evals_markdown(evals: Sequence[CheckpointEval], *, max_rows: int = 10) -> str:
    """The evaluations, one list item each: the latest ones and the best one (starred)."""
    if not evals:
        return "_no evaluations yet_"
    best = best_checkpoint(evals)
    ordered = sorted(evals, key=lambda e: e.step)
    shown = ordered[-max_rows:]
    if best is not None and best not in shown:
        shown = sorted([best, *shown[1:]], key=lambda e: e.step)
    lines = []
    for e in shown:
        line = _eval_line(e)
        if e is best:
            line = line.replace(f"step {e.step}", f"step **{e.step}** ★", 1)
        failing = [c.name for c in e.cases if not c.passed]
        if e.error is None and failing:
            line += f" · failing: {_cell(', '.join(failing))}"
        lines.append(f"- {line}")
    hidden = len(evals) - len(shown)
    if hidden:
        lines += ["", f"_{hidden} more evaluation(s) not shown_"]
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _cell(text: str, limit: int = 60) -> str:
    """Free text in a list item: on one line, clipped."""
    return clip(text.replace("\n", " "), limit)
