"""The training-run workflow: one Arkor job, created once and followed to its end.

Shape (DESIGN.md "The training-run workflow"):

1. ``create_or_adopt_job`` with a marker unique to this workflow run.
2. ``follow_job_events``: one long activity that relays events in batches
   through the ``relay_events`` signal and returns the stream's tail.
   :mod:`workflows.progress` applies each event exactly once.
3. Continue-as-new when Temporal suggests it (or past the spec's own
   threshold), carrying the job and the progress; the new run resumes the
   stream after the last applied event.
4. The outcome: ``completed`` returns a :class:`RunResult`; ``failed`` fails
   the workflow with a non-retryable ``TrainingFailed`` error whose details are
   the same result, so Temporal's status tells the truth.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.jobs import JobActivities
    from activities.stream import RELAY_SIGNAL, StreamActivities
    from workflows import search_attributes as sa
    from workflows.models import (
        CarriedState,
        EventBatch,
        FollowInput,
        JobRef,
        MetricPoint,
        Phase,
        RunEvent,
        RunInput,
        RunProgressState,
        RunResult,
        RunStatus,
        StartJobInput,
        StatusView,
        StreamOutcome,
    )
    from workflows.progress import apply_event

START_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20)
)
STREAM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["StreamRefused"],
)
# A job may train for days; the heartbeat timeout, not this, detects a dead worker.
STREAM_START_TO_CLOSE = timedelta(days=14)


@workflow.defn(name="TrainingRun")
class TrainingRun:
    @workflow.init
    def __init__(self, run_input: RunInput) -> None:
        self._spec = run_input.spec
        carried = run_input.carried
        self._job: JobRef | None = carried.job if carried else None
        self._progress = carried.progress if carried else RunProgressState()
        self._links = carried.links if carried else 0
        self._shown_phase: Phase | None = None
        self._shown_step = 0

    # -- messages ---------------------------------------------------------------

    @workflow.signal(
        name=RELAY_SIGNAL,
        description="Internal: backend events relayed by the stream activity, deduplicated here.",
    )
    def relay_events(self, batch: EventBatch) -> None:
        self._apply(batch.events)

    @workflow.query(description="Phase, step, job id, metrics summary and checkpoints of the run.")
    def status(self) -> StatusView:
        return StatusView(
            run_name=self._spec.name,
            phase=self._progress.phase,
            job_id=self._job.job_id if self._job else None,
            step=self._progress.summary.steps,
            max_steps=self._spec.max_steps,
            metrics=self._progress.summary,
            checkpoints=[c.step for c in self._progress.checkpoints],
            ledger=self._progress.ledger,
            links=self._links,
        )

    @workflow.query(description="The downsampled metrics series (step, loss, evalLoss, lr).")
    def metrics(self) -> list[MetricPoint]:
        return self._progress.series

    # -- main -------------------------------------------------------------------

    @workflow.run
    async def run(self, run_input: RunInput) -> RunResult:
        job = self._job or await self._start_job()
        outcome = await self._follow(job)
        if outcome is None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(
                RunInput(
                    spec=self._spec,
                    carried=CarriedState(job=job, progress=self._progress, links=self._links + 1),
                )
            )
        self._apply(outcome.tail)
        return self._finish(job, outcome)

    async def _start_job(self) -> JobRef:
        info = workflow.info()
        try:
            job = await workflow.execute_activity_method(
                JobActivities.create_or_adopt_job,
                StartJobInput(
                    spec=self._spec, marker=f"{info.workflow_id}/{info.first_execution_run_id}"
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=START_RETRY,
                summary=f"create job {self._spec.name} ({self._spec.model})",
            )
        except ActivityError as exc:
            reason = f"could not create the job: {_cause_message(exc)}"
            self._progress.phase = Phase.FAILED
            self._publish()
            raise ApplicationError(
                reason,
                self._result(None, RunStatus.FAILED, reason),
                type="StartFailed",
                non_retryable=True,
            ) from exc
        self._job = job
        self._progress.phase = Phase.QUEUED
        workflow.upsert_search_attributes([sa.JOB_ID.value_set(job.job_id)])
        self._publish()
        return job

    async def _follow(self, job: JobRef) -> StreamOutcome | None:
        """Follow the stream to its end; None when this run should continue as new."""
        orchestration = self._spec.orchestration
        stream = workflow.start_activity_method(
            StreamActivities.follow_job_events,
            FollowInput(
                job_id=job.job_id,
                workflow_id=workflow.info().workflow_id,
                run_id=workflow.info().run_id,
                resume_after=self._progress.cursor,
                flush_seconds=orchestration.metrics_flush_seconds,
            ),
            start_to_close_timeout=STREAM_START_TO_CLOSE,
            heartbeat_timeout=timedelta(seconds=orchestration.heartbeat_timeout_seconds),
            retry_policy=STREAM_RETRY,
            summary=f"follow events of job {job.job_id}",
        )
        await workflow.wait_condition(lambda: stream.done() or self._should_continue_as_new())
        if not stream.done():
            stream.cancel()
            # Cancelled on purpose; the next run resumes after our cursor.
            with contextlib.suppress(ActivityError):
                await stream
            return None
        try:
            return await stream
        except ActivityError as exc:
            reason = f"lost the job's event stream: {_cause_message(exc)}"
            self._progress.phase = Phase.FAILED
            self._publish()
            raise ApplicationError(
                reason,
                self._result(job, RunStatus.FAILED, reason),
                type="FollowFailed",
                non_retryable=True,
            ) from exc

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._spec.orchestration.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    # -- state ------------------------------------------------------------------

    def _apply(self, events: list[RunEvent]) -> None:
        max_points = self._spec.orchestration.metrics_points
        applied = [apply_event(self._progress, event, max_points) for event in events]
        if any(applied):
            self._publish()

    def _finish(self, job: JobRef, outcome: StreamOutcome) -> RunResult:
        terminal = self._progress.terminal_event
        if terminal is not None and terminal.type == "training.completed":
            status, reason = RunStatus.COMPLETED, "training completed"
        elif terminal is not None:
            status, reason = RunStatus.FAILED, terminal.error or "training failed"
        elif outcome.final_status == "completed":
            status, reason = RunStatus.COMPLETED, "job completed (confirmed by the job's status)"
        elif outcome.final_status == "cancelled":
            status, reason = RunStatus.CANCELLED, "the job was cancelled outside this workflow"
        else:
            status = RunStatus.FAILED
            reason = outcome.final_error or f"job ended with status {outcome.final_status}"
        self._progress.phase = Phase(status.value)
        self._publish()
        result = self._result(job, status, reason)
        if status is RunStatus.FAILED:
            raise ApplicationError(reason, result, type="TrainingFailed", non_retryable=True)
        return result

    def _result(self, job: JobRef | None, status: RunStatus, reason: str) -> RunResult:
        terminal = self._progress.terminal_event
        return RunResult(
            status=status,
            reason=reason,
            run_name=self._spec.name,
            job_id=job.job_id if job else None,
            artifacts=(terminal.artifacts or []) if terminal else [],
            metrics=self._progress.summary,
            series=self._progress.series,
            checkpoints=self._progress.checkpoints,
            ledger=self._progress.ledger,
            continued_as_new=self._links,
        )

    def _publish(self) -> None:
        """Live details every time; search attributes only when they change meaningfully."""
        progress = self._progress
        updates: list[SearchAttributeUpdate[Any]] = []
        if progress.phase != self._shown_phase:
            self._shown_phase = progress.phase
            updates.append(sa.PHASE.value_set(progress.phase.value))
        last_checkpoint = progress.last_checkpoint_step
        if last_checkpoint != self._shown_step:
            self._shown_step = last_checkpoint
            updates.append(sa.STEP.value_set(last_checkpoint))
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self._details_markdown())

    def _details_markdown(self) -> str:
        progress, summary = self._progress, self._progress.summary
        total = f"/{self._spec.max_steps}" if self._spec.max_steps else ""
        lines = [
            f"**{self._spec.name}** · phase **{progress.phase.value}**",
            f"- job: `{self._job.job_id if self._job else '-'}`",
            f"- step: {summary.steps}{total}",
            f"- loss: {_fmt(summary.last_loss)} (min {_fmt(summary.min_loss)})",
            f"- eval loss: {_fmt(summary.last_eval_loss)}",
            f"- checkpoints: {', '.join(str(c.step) for c in progress.checkpoints) or 'none yet'}",
        ]
        if self._links:
            lines.append(f"- continued as new: {self._links} times")
        return "\n".join(lines)


def _cause_message(error: ActivityError) -> str:
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
