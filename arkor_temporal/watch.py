"""Live terminal view of a run: a progress bar over steps, the loss, checkpoints as they land."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import WorkflowExecutionStatus

from arkor_temporal.runs import RunHandle, query_status, wait_for_result
from workflows.models import RunResult, StatusView


def _loss_text(status: StatusView) -> str:
    metrics = status.metrics
    parts = [f"phase {status.phase.value}"]
    if metrics.last_loss is not None:
        parts.append(f"loss {metrics.last_loss:.4f}")
    if metrics.last_eval_loss is not None:
        parts.append(f"eval {metrics.last_eval_loss:.4f}")
    return " · ".join(parts)


async def watch_run(handle: RunHandle, console: Console, *, poll_seconds: float = 0.5) -> RunResult:
    """Render progress until the run closes, then return its result."""
    shown_checkpoints: set[int] = set()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[steps]}"),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:

        def announce(checkpoints: list[int]) -> None:
            for step in checkpoints:
                if step not in shown_checkpoints:
                    shown_checkpoints.add(step)
                    progress.console.print(f"  [green]checkpoint saved[/] at step {step}")

        task = progress.add_task("training", total=None, loss="submitting", steps="")
        while True:
            description = await handle.describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                break
            status = await query_status(handle)
            if status is not None:
                announce(status.checkpoints)
                progress.update(
                    task,
                    total=status.max_steps,
                    completed=status.step,
                    loss=_loss_text(status),
                    steps=f"step {status.step}/{status.max_steps or '?'}",
                    description=status.run_name,
                )
            await asyncio.sleep(poll_seconds)
        result = await wait_for_result(handle)
        announce([c.step for c in result.checkpoints])
        progress.update(
            task,
            completed=result.metrics.steps,
            loss=result.status.value,
            steps=f"step {result.metrics.steps}",
        )
    return result


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
    table.add_row("artifacts", ", ".join(_artifact_name(a) for a in result.artifacts) or "none")
    table.add_row(
        "events applied",
        f"{result.ledger.count} (duplicates dropped: {result.ledger.duplicates_dropped})",
    )
    return table


def _artifact_name(artifact: object) -> str:
    if isinstance(artifact, dict) and "pathname" in artifact:
        return str(artifact["pathname"])
    return str(artifact)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
