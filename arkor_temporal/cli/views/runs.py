"""Views of runs: the ``run status`` panel, the result table, the run list, a cancel answer."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from arkor_temporal.cli.views.charts import run_charts
from arkor_temporal.cli.views.logs import hook_failure_line, notification_line
from arkor_temporal.client.runs import RunInfo, RunRecord, RunRow
from arkor_temporal.core.durations import clock
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.models import CancelAck, MetricPoint, RunResult
from arkor_temporal.core.notifications import DeliveryRecord


def result_table(result: RunResult) -> Table:
    table = Table(title=f"run {result.run_name}", show_header=False)
    table.add_row("status", f"[bold]{result.status.value}[/]")
    table.add_row("reason", result.reason)
    table.add_row("job", result.job_id or "-")
    table.add_row("steps", str(result.metrics.steps))
    table.add_row("last loss", _fmt(result.metrics.last_loss))
    table.add_row("min loss", _fmt(result.metrics.min_loss))
    if result.metrics.mean_train_loss is not None:
        table.add_row("mean train loss", _fmt(result.metrics.mean_train_loss))
    table.add_row("last eval loss", _fmt(result.metrics.last_eval_loss))
    table.add_row("checkpoints", ", ".join(str(c.step) for c in result.checkpoints) or "none")
    best = result.best_checkpoint
    if best is not None and best.score is not None:
        table.add_row("best checkpoint", f"step {best.step} (eval score {best.score:.3f})")
    table.add_row("artifacts", ", ".join(_artifact_name(a) for a in result.artifacts) or "none")
    if result.hook_failures:
        table.add_row("[red]hook failures[/]", _lines(map(hook_failure_line, result.hook_failures)))
    if result.notifications:
        table.add_row("notifications", notifications_text(result.notifications))
    table.add_row(
        "events applied",
        f"{result.ledger.count} (duplicates dropped: {result.ledger.duplicates_dropped})",
    )
    return table


def notifications_text(deliveries: Sequence[DeliveryRecord]) -> Text:
    """``3 delivered`` and, in red, each one that was not, with its reason."""
    delivered = sum(d.delivered for d in deliveries)
    text = Text(f"{delivered} delivered")
    for d in deliveries:
        if not d.delivered:
            text.append(f"\n{notification_line(d)}", style="red")
    return text


def _lines(lines: Iterable[str]) -> Text:
    return Text("\n".join(lines), style="red")


def status_view(info: RunInfo, record: RunRecord | None, width: int) -> RenderableType:
    """``run status``: identity and search attributes, live details or the result, and the
    curves of what ``record`` holds."""
    row = info.run
    table = Table(title=f"run {row.workflow_id}", show_header=False)
    table.add_row("execution", row.execution_status.lower())
    table.add_row("summary", info.summary or "-")
    table.add_row("run name", row.run_name or "-")
    table.add_row("model", row.model or "-")
    table.add_row("phase", row.shown_phase)
    table.add_row("job", row.job_id or "-")
    table.add_row("started", f"{row.start_time:%Y-%m-%d %H:%M:%S} UTC")
    if row.close_time:
        table.add_row("closed", f"{row.close_time:%Y-%m-%d %H:%M:%S} UTC")
    parts: list[RenderableType] = [table]
    if info.live is not None:
        parts.append(Text(f"live: {info.live.line()}", style="cyan"))
    if info.stream_trouble:
        parts.append(Text(f"waiting for the job's events: {info.stream_trouble}", style="yellow"))
    if info.details:
        parts.append(Markdown(info.details))
    elif row.running:
        parts.append(Text("no worker answered the status query", style="yellow"))
    if info.status is not None:
        if info.status.hook_failures:
            parts.append(Text("hook failures:", style="bold red"))
            parts.append(_lines(map(hook_failure_line, info.status.hook_failures)))
        undelivered = [d for d in info.status.notifications if not d.delivered]
        if undelivered:
            parts.append(notifications_text(info.status.notifications))
    if record is not None:
        parts.append(run_charts(record.series, record.evals, width=min(width, 100) - 2))
    if info.result:
        parts.append(result_table(info.result))
    return Group(*parts)


# From this many columns `run list` adds the run name and start time; --wide adds the rest.
ROOMY_WIDTH = 120
MIN_ID, ROOMY_NAME = 20, 18
RIGHT_ALIGNED = ("step", "loss", "best eval", "duration")


def runs_table(
    rows: Sequence[RunRow], links: Sequence[str | None], width: int, *, wide: bool = False
) -> RenderableType:
    """``run list``: one line per run that fits ``width`` columns (80: id, outcome, step/max,
    loss, best eval, duration; 120: also run name and start), ids shortened from the front
    to the room left; ``wide``: every column, full ids and the Web UI links."""
    if not rows:
        return "no runs match"
    roomy = wide or width >= ROOMY_WIDTH
    lines = [
        _run_cells(row, link, roomy=roomy, wide=wide) for row, link in zip(rows, links, strict=True)
    ]
    names = list(lines[0])
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0)
    table.add_column("workflow id", no_wrap=True)
    for name in names:
        table.add_column(name, no_wrap=True, justify="right" if name in RIGHT_ALIGNED else "left")
    # The id gets the room the other columns leave (one space after each column).
    others = sum(max(len(name), *(len(line[name]) for line in lines)) + 1 for name in names)
    id_width = None if wide else max(MIN_ID, width - others - 1)
    for row, line in zip(rows, lines, strict=True):
        table.add_row(_short(row.workflow_id, id_width), *line.values())
    return table


def _run_cells(row: RunRow, link: str | None, *, roomy: bool, wide: bool) -> dict[str, str]:
    """One row's cells but the id, by column name, in column order."""
    cells: dict[str, str] = {}
    if roomy:
        cells["run name"] = _short(row.run_name or "-", None if wide else ROOMY_NAME)
    if wide:
        cells["model"] = row.model or "-"
    cells["outcome"] = row.shown_phase
    cells["step"] = _steps(row)
    cells["loss"] = _fmt(row.last_loss)
    cells["best eval"] = "-" if row.best_eval is None else f"{row.best_eval:.3f}"
    cells["duration"] = clock(row.duration_seconds)
    if roomy:
        cells["started (UTC)"] = f"{row.start_time:%Y-%m-%d %H:%M}"
    if wide:
        cells["web ui"] = link or "-"
    return cells


def _short(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return "…" + text[-(width - 1) :]


def _steps(row: RunRow) -> str:
    step = row.step if row.step is not None else row.checkpoint_step
    if step is None:
        return "-"
    return f"{step}/{row.max_steps}" if row.max_steps else str(step)


def cancel_text(ack: CancelAck | None) -> str:
    """``run cancel``: the update's answer, or None when only the signal was sent."""
    if ack is None:
        return "cancel signalled"
    return f"{ack.outcome} (run {ack.run_status}, job {ack.job_id or '-'})"


def _artifact_name(artifact: object) -> str:
    if isinstance(artifact, dict) and "pathname" in artifact:
        return str(artifact["pathname"])
    return str(artifact)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def metrics_table(series: Sequence[MetricPoint]) -> RenderableType:
    """``run metrics``: the downsampled series, one row per point."""
    if not series:
        return "no metrics recorded yet"
    table = Table("step", "loss", "eval loss", "learning rate")
    for point in series:
        table.add_row(
            str(point.step), _fmt(point.loss), _fmt(point.eval_loss), _fmt(point.learning_rate)
        )
    return table


def metrics_csv(series: Sequence[MetricPoint]) -> str:
    """``run metrics --csv``: ``step,loss,eval_loss,learning_rate`` with a header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "loss", "eval_loss", "learning_rate"])
    for p in series:
        writer.writerow([p.step, *("" if v is None else repr(v) for v in _values(p))])
    return out.getvalue()


def _values(point: MetricPoint) -> tuple[float | None, ...]:
    return (point.loss, point.eval_loss, point.learning_rate)


def evals_table(evals: Sequence[CheckpointEval]) -> RenderableType:
    """``run evals``: one row per case, one column per evaluated checkpoint (and the base)."""
    if not evals:
        return "no evaluations recorded yet"
    steps = [e.step for e in evals]
    table = Table("case", *(f"step {step}" for step in steps), "base")
    names = list(dict.fromkeys(case.name for e in evals for case in e.cases))
    for name in names:
        cells = []
        base = "-"
        for evaluation in evals:
            case = next((c for c in evaluation.cases if c.name == name), None)
            cells.append(_case_cell(case.passed, case.score, case.error) if case else "-")
            if case is not None and case.base_passed is not None:
                base = _case_cell(case.base_passed, case.base_score, case.base_error)
        table.add_row(name, *cells, base)
    table.add_row(
        "[bold]score[/]",
        *(
            f"[bold]{e.score:.3f}[/] {e.passed_cases}/{e.total}" if e.score is not None else "error"
            for e in evals
        ),
        _fmt(evals[-1].base_score),
    )
    return table


def _case_cell(passed: bool, score: float | None, error: str | None) -> str:
    if error:
        return "[red]error[/]"
    mark = "[green]pass[/]" if passed else "[red]fail[/]"
    return f"{mark} {score:.2f}" if score is not None else mark
