"""The live view of ``run watch``: a header, the curves, checkpoints, evals and stops.

The header counts from the run's own start, not from attaching: step/max, elapsed,
throughput and ETA on the bar; phase, loss, eval loss and the best checkpoint so far
below it; then the loss and eval-score charts. Its command feeds it (``show`` each
snapshot while the run runs, ``finish`` with the result), so the view itself never
talks to Temporal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.text import Text

from arkor_temporal.cli.views.charts import run_charts
from arkor_temporal.client.runs import Snapshot
from arkor_temporal.core.durations import clock
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.models import (
    EvalPoint,
    MetricPoint,
    RunResult,
    RunStatus,
    StatusView,
    StopDecision,
)


class _RunProgress(Progress):
    """A progress bar with the run's summary line and curves underneath."""

    below: RenderableType = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield self.below


class LiveRunView:
    """One run's live view, on screen while used as a context manager.

    Each checkpoint, evaluation and stop request is printed once, above the bar,
    however many snapshots repeat it; the outcome line follows the final bar.
    """

    def __init__(self, workflow_id: str, console: Console, started_at: datetime) -> None:
        self._console = console
        self._started_at = started_at
        self._progress = _RunProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[steps]}"),
            TextColumn("{task.fields[timing]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(
            workflow_id, total=None, steps="waiting for a worker", timing=""
        )
        self._checkpoints: set[int] = set()
        self._evaluated: set[int] = set()
        self._stop_shown = False
        self._result: RunResult | None = None

    def __enter__(self) -> LiveRunView:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()
        if self._result is not None:  # below the final bar, once the live display is gone
            result = self._result
            self._console.print(f"{result.status.value}: {result.reason}", highlight=False)

    def show(self, snapshot: Snapshot) -> None:
        """A running run's latest state (nothing yet if no worker answered)."""
        status = snapshot.status
        if status is None:
            return
        self._announce_checkpoints(status.checkpoints)
        self._announce_evals(status.evals)
        if status.stop is not None and not self._stop_shown:
            self._stop_shown = True
            self._progress.console.print(f"  [yellow]{_stop_text(status.stop)}[/]", highlight=False)
        step = snapshot.step
        rate = snapshot.live.steps_per_second if snapshot.live else None
        self._below(summary_line(status, snapshot), snapshot.series, status.evals)
        self._progress.update(
            self._task,
            total=status.max_steps,
            completed=step,
            steps=f"step {step}/{status.max_steps or '?'}",
            timing=timing_text(self._elapsed(), step, status.max_steps, rate),
            description=status.run_name,
        )

    def finish(self, result: RunResult) -> None:
        """The run's result: what the last snapshot missed, then the final bar."""
        self._result = result
        self._announce_checkpoints(c.step for c in result.checkpoints)
        self._announce_evals(result.evals)
        best = result.best_checkpoint
        line = Text(f"  {result.status.value}", style="bold")
        if best is not None and best.score is not None:
            line.append(f" · best checkpoint {best.step} (score {best.score:.3f})", style="green")
        self._below(line, result.series, result.evals)
        self._progress.update(
            self._task,
            completed=result.metrics.steps,
            steps=f"step {result.metrics.steps}/{result.max_steps or '?'}",
            timing=f"{clock(self._elapsed())} elapsed",
        )

    def _elapsed(self) -> float:
        return (datetime.now(UTC) - self._started_at).total_seconds()

    def _below(
        self,
        line: Text,
        series: Sequence[MetricPoint],
        evals: Sequence[EvalPoint | CheckpointEval],
    ) -> None:
        charts = run_charts(series, evals, width=min(self._console.width, 100) - 2)
        self._progress.below = Group(line, charts)

    def _announce_checkpoints(self, steps: Iterable[int]) -> None:
        for step in steps:
            if step not in self._checkpoints:
                self._checkpoints.add(step)
                self._progress.console.print(f"  [green]checkpoint saved[/] at step {step}")

    def _announce_evals(self, evals: Iterable[EvalPoint | CheckpointEval]) -> None:
        for evaluation in evals:
            if evaluation.step not in self._evaluated:
                self._evaluated.add(evaluation.step)
                self._progress.console.print(f"  {_eval_text(evaluation)}", highlight=False)


def timing_text(elapsed: float, step: int, max_steps: int | None, rate: float | None) -> str:
    """``0:01:05 elapsed · 4.80 steps/s · ETA 0:00:14``: elapsed from the run's start; the
    rate is the backend's own (smoothed), so the ETA does not count queueing."""
    parts = [f"{clock(elapsed)} elapsed"]
    if rate:
        parts.append(f"{rate:.2f} steps/s")
        if max_steps and step < max_steps:
            parts.append(f"ETA {clock((max_steps - step) / rate)}")
    return " · ".join(parts)


def summary_line(status: StatusView, snapshot: Snapshot) -> Text:
    """Phase, loss (the stream's latest when it is ahead of the workflow), eval loss, best."""
    metrics, live = status.metrics, snapshot.live
    line = Text(f"  phase {status.phase.value}", style="bold")
    fresher = live is not None and live.step >= status.step
    loss = live.loss if live is not None and fresher else metrics.last_loss
    if loss is not None:
        line.append(f" · loss {loss:.4f}")
    if metrics.last_eval_loss is not None:
        line.append(f" · eval loss {metrics.last_eval_loss:.4f}")
    best = next((e for e in status.evals if e.step == status.best_eval_step), None)
    if best is not None and best.score is not None:
        line.append(f" · best checkpoint {best.step} (score {best.score:.3f})", style="green")
    return line


def _stop_text(stop: StopDecision) -> str:
    verb = "cancel" if stop.run_status is RunStatus.CANCELLED else "stop"
    where = f" at step {stop.step}" if stop.step is not None else ""
    if where and where.strip() in stop.reason:  # a stop rule's reason names its step already
        where = ""
    return f"{verb} requested by {stop.requested_by}{where}: {stop.reason}"


def _eval_text(evaluation: EvalPoint | CheckpointEval) -> str:
    """One line per checkpoint evaluation, as it lands."""
    where = f"eval of checkpoint {evaluation.step}"
    if evaluation.error is not None or evaluation.score is None:
        return f"[red]{where} failed[/]: {evaluation.error or 'no score'}"
    delta = f" (vs base {evaluation.delta:+.3f})" if evaluation.delta is not None else ""
    verdict = "[green]passed[/]" if evaluation.passed else "[yellow]not passed[/]"
    return f"{where}: score {evaluation.score:.3f}{delta}, {verdict}"
