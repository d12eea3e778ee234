"""Reports of runs, gathered from the runs' own Temporal state: ``run report`` and ``run compare``.

Everything comes from the workflow itself (its description and search attributes, its
queries while it runs, its result once it has ended), so a report needs no tracking
service. A report of a running run is a snapshot of the moment it was taken::

    report = await gather_report(client, "train-triage-20261129T020000000")
    print(report.outcome.state, report.metrics.min_loss, report.best_eval)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio.client import Client

from arkor_temporal.client.links import run_link
from arkor_temporal.client.runs import RunInfo, RunRecord, describe_run, get_run, run_record
from arkor_temporal.core.evals import CaseResult, CheckpointEval, best_checkpoint
from arkor_temporal.core.models import (
    MetricPoint,
    MetricsSummary,
    RunResult,
    StatusView,
    StopDecision,
)


class Outcome(BaseModel):
    """How the run ended (its result), or where it stands (its phase) while it runs."""

    state: str = Field(description="completed, failed, cancelled, stopped; or the live phase")
    reason: str | None = None
    stop: StopDecision | None = Field(default=None, description="why it was stopped or cancelled")


class RunReport(BaseModel):
    """One run as its report shows it, read from Temporal at ``taken_at``."""

    workflow_id: str
    run_name: str | None
    model: str | None
    job_id: str | None
    summary: str | None
    running: bool
    answered: bool = Field(description="false when no worker answered a running run's queries")
    outcome: Outcome
    started: datetime
    closed: datetime | None
    taken_at: datetime
    metrics: MetricsSummary
    series: list[MetricPoint]
    evals: list[CheckpointEval] = Field(description="by checkpoint step")
    checkpoints: list[int] = Field(description="steps of the saved checkpoints")
    best_step: int | None = Field(description="the best-scoring evaluated checkpoint")
    web_ui: str | None = Field(description="the run's page in the Temporal Web UI, when known")

    @property
    def title(self) -> str:
        return self.run_name or self.workflow_id

    @property
    def duration(self) -> timedelta:
        """Start to close; start to the snapshot for a run still running."""
        return (self.closed or self.taken_at) - self.started

    @property
    def best_eval(self) -> CheckpointEval | None:
        return next((e for e in self.evals if e.step == self.best_step), None)


@dataclass(frozen=True)
class _Progress:
    """What the result (or, while the run runs, its status query) says of its progress."""

    outcome: Outcome
    metrics: MetricsSummary = field(default_factory=MetricsSummary)
    checkpoints: list[int] = field(default_factory=list)
    best_step: int | None = None


def _ended(result: RunResult) -> _Progress:
    best = result.best_checkpoint or best_checkpoint(result.evals)
    return _Progress(
        Outcome(state=result.status.value, reason=result.reason, stop=result.stop),
        result.metrics,
        [checkpoint.step for checkpoint in result.checkpoints],
        best.step if best else None,
    )


def _live(status: StatusView) -> _Progress:
    stop = status.stop
    return _Progress(
        Outcome(state=status.phase.value, reason=stop.reason if stop else None, stop=stop),
        status.metrics,
        status.checkpoints,
        status.best_eval_step,
    )


def report_of(
    info: RunInfo, record: RunRecord, *, web_ui: str | None, taken_at: datetime
) -> RunReport:
    """The report of a described run and what it has recorded (pure: no call is made)."""
    row = info.run
    if info.result is not None:
        progress = _ended(info.result)
    elif info.status is not None:
        progress = _live(info.status)
    else:  # running, but no worker answered: only visibility knows of it
        progress = _Progress(Outcome(state=row.shown_phase))
    return RunReport(
        workflow_id=row.workflow_id,
        run_name=row.run_name,
        model=row.model,
        job_id=row.job_id,
        summary=info.summary,
        running=row.running,
        answered=info.result is not None or info.status is not None,
        outcome=progress.outcome,
        started=row.start_time,
        closed=row.close_time,
        taken_at=taken_at,
        metrics=progress.metrics,
        series=record.series,
        evals=record.evals,
        checkpoints=progress.checkpoints,
        best_step=progress.best_step,
        web_ui=web_ui,
    )


async def gather_report(client: Client, workflow_id: str) -> RunReport:
    """The run's report now; raises ``RunNotFoundError`` for an unknown id."""
    handle = get_run(client, workflow_id)
    info = await describe_run(handle)
    # A closed run's result holds its record: no second read of it.
    result = info.result
    record = RunRecord.of_result(result) if result else await run_record(handle)
    link = run_link(client.service_client.config.target_host, client.namespace, workflow_id)
    return report_of(info, record, web_ui=link, taken_at=datetime.now(UTC))


async def gather_reports(client: Client, workflow_ids: Iterable[str]) -> list[RunReport]:
    """Reports of several runs, read concurrently, in the order given (repeats dropped)."""
    unique = list(dict.fromkeys(workflow_ids))
    return list(await asyncio.gather(*(gather_report(client, id_) for id_ in unique)))


# -- the per-case table ------------------------------------------------------------


class CaseCell(BaseModel):
    """One case's verdict on one checkpoint (or the base model)."""

    passed: bool
    score: float | None
    error: str | None = None


class CaseRow(BaseModel):
    """One eval case across the evaluated checkpoints, and on the base model."""

    name: str
    by_checkpoint: list[CaseCell | None] = Field(description="in the order of the evaluations")
    base: CaseCell | None = Field(description="from the latest evaluation that ran the base")


def case_rows(evals: Sequence[CheckpointEval]) -> list[CaseRow]:
    """Case-by-checkpoint verdicts, cases in the order they first appear."""
    names = dict.fromkeys(case.name for evaluation in evals for case in evaluation.cases)
    return [_case_row(name, evals) for name in names]


def _case_row(name: str, evals: Sequence[CheckpointEval]) -> CaseRow:
    found = [next((c for c in e.cases if c.name == name), None) for e in evals]
    with_base = [case for case in found if case is not None and case.base_passed is not None]
    return CaseRow(
        name=name,
        by_checkpoint=[_own_cell(case) if case else None for case in found],
        base=_base_cell(with_base[-1]) if with_base else None,
    )


def _own_cell(case: CaseResult) -> CaseCell:
    return CaseCell(passed=case.passed, score=case.score, error=case.error)


def _base_cell(case: CaseResult) -> CaseCell:
    return CaseCell(passed=bool(case.base_passed), score=case.base_score, error=case.base_error)
