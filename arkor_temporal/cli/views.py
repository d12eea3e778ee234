"""Terminal views of runs: the live watch, the status panel, the result table, the run list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from arkor_temporal.client.runs import RunHandle, RunInfo, RunRow, follow_run, wait_for_result
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.models import (
    EvalPoint,
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


def _stop_text(stop: StopDecision) -> str:
    verb = "cancel" if stop.run_status is RunStatus.CANCELLED else "stop"
    where = f" at step {stop.step}" if stop.step is not None else ""
    return f"{verb} requested by {stop.requested_by}{where}: {stop.reason}"


def _progress_text(status: StatusView) -> str:
    metrics = status.metrics
    parts = [f"phase {status.phase.value}"]
    if metrics.last_loss is not None:
        parts.append(f"loss {metrics.last_loss:.4f}")
    if metrics.last_eval_loss is not None:
        parts.append(f"eval {metrics.last_eval_loss:.4f}")
    return " · ".join(parts)


async def watch_run(handle: RunHandle, console: Console, *, poll_seconds: float = 0.5) -> RunResult:
    """Render progress until the run closes, then return its result."""
    shown: set[int] = set()
    evaluated: set[int] = set()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[steps]}"),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
    )
    with _RunProgress(*columns, console=console, transient=False) as progress:

        def announce(checkpoints: Iterable[int]) -> None:
            for step in checkpoints:
                if step not in shown:
                    shown.add(step)
                    progress.console.print(f"  [green]checkpoint saved[/] at step {step}")

        def announce_evals(evals: Iterable[EvalPoint | CheckpointEval]) -> None:
            for evaluation in evals:
                if evaluation.step not in evaluated:
                    evaluated.add(evaluation.step)
                    progress.console.print(f"  {_eval_text(evaluation)}", highlight=False)

        task = progress.add_task(handle.id, total=None, loss="waiting for a worker", steps="")
        stop_shown = False
        async for snapshot in follow_run(handle, poll_seconds=poll_seconds):
            status = snapshot.status
            if status is None:
                continue
            announce(status.checkpoints)
            announce_evals(status.evals)
            if status.stop is not None and not stop_shown:
                stop_shown = True
                progress.console.print(f"  [yellow]{_stop_text(status.stop)}[/]", highlight=False)
            progress.below = curves(snapshot.series)
            progress.update(
                task,
                total=status.max_steps,
                completed=status.step,
                loss=_progress_text(status),
                steps=f"step {status.step}/{status.max_steps or '?'}",
                description=status.run_name,
            )
        result = await wait_for_result(handle)
        announce(c.step for c in result.checkpoints)
        announce_evals(result.evals)
        if result.series:
            progress.below = curves(result.series)
        progress.update(
            task,
            completed=result.metrics.steps,
            loss=f"[bold]{result.status.value}[/]",
            steps=f"step {result.metrics.steps}",
        )
    console.print(f"{result.status.value}: {result.reason}", highlight=False)
    return result


def _eval_text(evaluation: EvalPoint | CheckpointEval) -> str:
    """One line per checkpoint evaluation, as it lands."""
    where = f"eval of checkpoint {evaluation.step}"
    if evaluation.error is not None or evaluation.score is None:
        return f"[red]{where} failed[/]: {evaluation.error or 'no score'}"
    delta = f" (vs base {evaluation.delta:+.3f})" if evaluation.delta is not None else ""
    verdict = "[green]passed[/]" if evaluation.passed else "[yellow]not passed[/]"
    return f"{where}: score {evaluation.score:.3f}{delta}, {verdict}"


def result_table(result: RunResult) -> Table:
    table = Table(title=f"run {result.run_name}", show_header=False)
    table.add_row("status", f"[bold]{result.status.value}[/]")
    table.add_row("reason", result.reason)
    table.add_row("job", result.job_id or "-")
    table.add_row("steps", str(result.metrics.steps))
    table.add_row("last loss", _fmt(result.metrics.last_loss))
    table.add_row("min loss", _fmt(result.metrics.min_loss))
    table.add_row("last eval loss", _fmt(result.metrics.last_eval_loss))
    table.add_row("checkpoints", ", ".join(str(c.step) for c in result.checkpoints) or "none")
    best = result.best_checkpoint
    if best is not None and best.score is not None:
        table.add_row("best checkpoint", f"step {best.step} (eval score {best.score:.3f})")
    table.add_row("artifacts", ", ".join(_artifact_name(a) for a in result.artifacts) or "none")
    table.add_row(
        "events applied",
        f"{result.ledger.count} (duplicates dropped: {result.ledger.duplicates_dropped})",
    )
    return table


def status_view(info: RunInfo) -> RenderableType:
    """``run status``: identity and search attributes, then live details or the result."""
    row = info.run
    table = Table(title=f"run {row.workflow_id}", show_header=False)
    table.add_row("execution", row.execution_status.lower())
    table.add_row("summary", info.summary or "-")
    table.add_row("run name", row.run_name or "-")
    table.add_row("model", row.model or "-")
    table.add_row("phase", row.phase or "-")
    table.add_row("job", row.job_id or "-")
    table.add_row("started", f"{row.start_time:%Y-%m-%d %H:%M:%S} UTC")
    if row.close_time:
        table.add_row("closed", f"{row.close_time:%Y-%m-%d %H:%M:%S} UTC")
    parts: list[RenderableType] = [table]
    if info.details:
        parts.append(Markdown(info.details))
    elif row.running:
        parts.append(Text("no worker answered the status query", style="yellow"))
    if info.result:
        parts.append(result_table(info.result))
    return Group(*parts)


def runs_table(rows: Sequence[RunRow]) -> Table:
    table = Table("workflow id", "run name", "model", "phase", "ckpt step", "best eval", "started")
    for row in rows:
        table.add_row(
            row.workflow_id,
            row.run_name or "-",
            row.model or "-",
            row.phase or row.execution_status.lower(),
            "-" if row.checkpoint_step is None else str(row.checkpoint_step),
            _fmt(row.best_eval),
            f"{row.start_time:%Y-%m-%d %H:%M:%S}",
        )
    return table


def _artifact_name(artifact: object) -> str:
    if isinstance(artifact, dict) and "pathname" in artifact:
        return str(artifact["pathname"])
    return str(artifact)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
