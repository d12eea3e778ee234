"""What the Web UI shows as a run's current details: markdown rendered from the run's state.

Pure functions of what they are given. The length is bounded whatever the run
does: the evaluation table keeps at most ``max_rows`` rows and clips every cell.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
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
) -> str:
    """Phase, job, step, losses, checkpoints, the stop in effect and the evaluations."""
    summary = progress.summary
    total = f"/{spec.max_steps}" if spec.max_steps else ""
    lines = [
        f"**{spec.name}** · phase **{progress.phase.value}**",
        f"- job: `{job.job_id if job else '-'}`",
        f"- step: {summary.steps}{total}",
        f"- loss: {_number(summary.last_loss)} (min {_number(summary.min_loss)})",
        f"- eval loss: {_number(summary.last_eval_loss)}",
        f"- checkpoints: {', '.join(str(c.step) for c in progress.checkpoints) or 'none yet'}",
    ]
    if stop is not None:
        lines.append(f"- stopping: {stop.reason} (by {stop.requested_by})")
    if links:
        lines.append(f"- continued as new: {links} times")
    if progress.evals:
        lines += ["", "**evaluations**", "", eval_table_markdown(progress.evals)]
    return "\n".join(lines)


def eval_table_markdown(evals: Sequence[CheckpointEval], *, max_rows: int = 10) -> str:
    """A compact table of evaluations: the latest rows and the best one (starred)."""
    if not evals:
        return "_no evaluations yet_"
    best = best_checkpoint(evals)
    ordered = sorted(evals, key=lambda e: e.step)
    shown = ordered[-max_rows:]
    if best is not None and best not in shown:
        shown = sorted([best, *shown[1:]], key=lambda e: e.step)
    lines = [
        "| step | score | cases | vs base | failing |",
        "|---:|---:|---:|---:|---|",
    ]
    for e in shown:
        step = f"**{e.step}** ★" if e is best else str(e.step)
        if e.error is not None:
            lines.append(f"| {step} | error | - | - | {_cell(e.error)} |")
            continue
        failing = ", ".join(c.name for c in e.cases if not c.passed) or "-"
        delta = f"{e.delta:+.3f}" if e.delta is not None else "-"
        lines.append(
            f"| {step} | {e.score or 0.0:.3f} | {e.passed_cases}/{e.total} | {delta} | "
            f"{_cell(failing)} |"
        )
    hidden = len(evals) - len(shown)
    if hidden:
        lines.append(f"\n_{hidden} more evaluation(s) not shown_")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _cell(text: str, limit: int = 60) -> str:
    """One table cell: pipes escaped, on one line, clipped."""
    return clip(text.replace("|", "\\|").replace("\n", " "), limit)
