"""The live view of ``run watch``: progress, loss sparklines, checkpoints, evals and stops.

Its command feeds it (``show`` each snapshot while the run runs, ``finish`` with
the result), so the view itself never talks to Temporal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from arkor_temporal.client.runs import Snapshot
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.models import (
    EvalPoint,
    LiveProgress,
    MetricPoint,
    RunResult,
    RunStatus,
    StatusView,
    StopDecision,
)

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """The last ``width`` values as unicode blocks, scaled between their min and max."""
    tail = [v for v in values if v == v][-width:]  # drops NaN
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = (high - low) or 1.0
    return "".join(BLOCKS[round((v - low) / span * (len(BLOCKS) - 1))] for v in tail)


def _curve(label: str, points: Iterable[tuple[int, float | None]]) -> Text:
    values = [value for _, value in points if value is not None]
    if not values:
        return Text("")
    line = Text(f"  {label:<10}", style="bold")
    line.append(sparkline(values), style="cyan")
    line.append(f"  {values[-1]:.4f} (min {min(values):.4f})")
    return line


def curves(series: Sequence[MetricPoint]) -> RenderableType:
    """Loss and eval-loss sparklines from the ``metrics`` query's series."""
    return Group(
        _curve("loss", ((p.step, p.loss) for p in series)),
        _curve("eval loss", ((p.step, p.eval_loss) for p in series)),
    )


class _RunProgress(Progress):
    """A progress bar with the loss curves underneath."""

    below: RenderableType = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield self.below


class LiveRunView:
    """One run's live view, on screen while used as a context manager.

    Each checkpoint, evaluation and stop request is printed once, above the bar,
    however many snapshots repeat it; the outcome line follows the final bar.
    """

    def __init__(self, workflow_id: str, console: Console) -> None:
        self._console = console
        self._progress = _RunProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[steps]}"),
            TextColumn("{task.fields[loss]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(
            workflow_id, total=None, loss="waiting for a worker", steps=""
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
        self._progress.below = curves(snapshot.series)
        step = snapshot.step
        self._progress.update(
            self._task,
            total=status.max_steps,
            completed=step,
            loss=_progress_text(status, snapshot.live),
            steps=f"step {step}/{status.max_steps or '?'}",
            description=status.run_name,
        )

    def finish(self, result: RunResult) -> None:
        """The run's result: what the last snapshot missed, then the final bar."""
        self._result = result
        self._announce_checkpoints(c.step for c in result.checkpoints)
        self._announce_evals(result.evals)
        if result.series:
            self._progress.below = curves(result.series)
        self._progress.update(
            self._task,
            completed=result.metrics.steps,
            loss=f"[bold]{result.status.value}[/]",
            steps=f"step {result.metrics.steps}",
        )

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


def _stop_text(stop: StopDecision) -> str:
    verb = "cancel" if stop.run_status is RunStatus.CANCELLED else "stop"
    where = f" at step {stop.step}" if stop.step is not None else ""
    if where and where.strip() in stop.reason:  # a stop rule's reason names its step already
        where = ""
    return f"{verb} requested by {stop.requested_by}{where}: {stop.reason}"


def _progress_text(status: StatusView, live: LiveProgress | None) -> str:
    """Phase, loss (the stream's latest when it is ahead of the workflow) and rate."""
    metrics = status.metrics
    parts = [f"phase {status.phase.value}"]
    fresher = live is not None and live.step >= status.step
    loss = live.loss if live is not None and fresher else metrics.last_loss
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    if live is not None and live.steps_per_second is not None:
        parts.append(f"{live.steps_per_second:.2f} steps/s")
    if metrics.last_eval_loss is not None:
        parts.append(f"eval {metrics.last_eval_loss:.4f}")
    return " · ".join(parts)


def _eval_text(evaluation: EvalPoint | CheckpointEval) -> str:
    """One line per checkpoint evaluation, as it lands."""
    where = f"eval of checkpoint {evaluation.step}"
    if evaluation.error is not None or evaluation.score is None:
        return f"[red]{where} failed[/]: {evaluation.error or 'no score'}"
    delta = f" (vs base {evaluation.delta:+.3f})" if evaluation.delta is not None else ""
    verdict = "[green]passed[/]" if evaluation.passed else "[yellow]not passed[/]"
    return f"{where}: score {evaluation.score:.3f}{delta}, {verdict}"
