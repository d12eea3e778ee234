"""The training-run workflow: one Arkor job, created once, followed to its end, stopped on demand.

Shape (DESIGN.md "The training-run workflow"):

1. ``create_or_adopt_job`` with a marker unique to this workflow run.
2. ``follow_job_events``: one long activity that relays events in batches
   through the ``relay_events`` signal and returns the stream's tail.
   :mod:`workflows.progress` applies each event exactly once and
   :mod:`workflows.stop_rules` judges each log.
3. Every way of ending a run early (the ``cancel`` update, the
   ``request_cancel`` signal, a stop rule, a deadline, Temporal cancellation)
   records one :class:`StopDecision` (the first wins) and converges on the
   ``cancel_job`` activity, which returns once the backend shows the job
   terminal. The stream activity is cancelled only afterwards and never waited on.
4. Continue-as-new when Temporal suggests it (or past the spec's own
   threshold), carrying the job and the progress; the new run resumes the
   stream after the last applied event.

Outcome mapping (see README): completed, cancelled (by update/signal) and
stopped runs complete with a :class:`RunResult`; Temporal cancellation ends the
workflow as Canceled; a failed training run fails the workflow with a
non-retryable ``TrainingFailed`` error whose details are the same result.
"""

from __future__ import annotations

import asyncio
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
        CancelAck,
        CancelRequest,
        CarriedState,
        EventBatch,
        EventType,
        FollowInput,
        JobRef,
        JobSnapshot,
        MetricPoint,
        Phase,
        RunEvent,
        RunInput,
        RunProgressState,
        RunResult,
        RunStatus,
        StartJobInput,
        StatusView,
        StopDecision,
        StopKind,
        StreamOutcome,
    )
    from workflows.progress import apply_event
    from workflows.stop_rules import observe

START_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20)
)
STREAM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["StreamRefused"],
)
# Retried until the backend shows the job terminal: a stopped run must not leave a GPU running.
CANCEL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500), maximum_interval=timedelta(seconds=10)
)
# A job may train for days; the heartbeat timeout, not this, detects a dead worker.
STREAM_START_TO_CLOSE = timedelta(days=14)
# How long a job that completed just as we cancelled it may take to deliver its last events.
COMPLETED_TAIL_GRACE = timedelta(seconds=30)

StreamHandle = workflow.ActivityHandle[StreamOutcome]


@workflow.defn(name="TrainingRun")
class TrainingRun:
    @workflow.init
    def __init__(self, run_input: RunInput) -> None:
        self._spec = run_input.spec
        carried = run_input.carried
        self._job: JobRef | None = carried.job if carried else None
        self._progress = carried.progress if carried else RunProgressState()
        self._links = carried.links if carried else 0
        self._stop: StopDecision | None = None
        self._confirmed: JobSnapshot | None = None
        self._finished: RunResult | None = None
        self._shown_phase: Phase | None = None
        self._shown_step = 0

    # -- messages ---------------------------------------------------------------

    @workflow.signal(
        name=RELAY_SIGNAL,
        description="Internal: backend events relayed by the stream activity, deduplicated here.",
    )
    def relay_events(self, batch: EventBatch) -> None:
        self._apply(batch.events)

    @workflow.update(
        description="Cancel the run: the backend job is cancelled; answers once the backend "
        "shows it terminal, with the run's outcome. Argument: {reason, requested_by}."
    )
    async def cancel(self, request: CancelRequest) -> CancelAck:
        if self._finished is not None or self._progress.terminal_event is not None:
            return self._ack("already_finished")
        first = self._request_stop(
            StopDecision(
                kind=StopKind.OPS_CANCEL, reason=request.reason, requested_by=request.requested_by
            )
        )
        # The run concludes right after the backend confirms; answer with that outcome.
        await workflow.wait_condition(lambda: self._finished is not None)
        return self._ack("cancelled" if first else "already_requested")

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if not request.reason.strip() or not request.requested_by.strip():
            raise ValueError("reason and requested_by must not be blank")

    @workflow.signal(
        description="Cancel the run, for tools that can only signal; same effect as the "
        "cancel update, without an answer. Argument: {reason, requested_by}."
    )
    def request_cancel(self, request: CancelRequest) -> None:
        if request.reason.strip() and self._progress.terminal_event is None:
            self._request_stop(
                StopDecision(
                    kind=StopKind.OPS_CANCEL,
                    reason=request.reason,
                    requested_by=request.requested_by or "signal",
                )
            )

    @workflow.query(description="Phase, step, job id, metrics summary, checkpoints, stop reason.")
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
            stop=self._stop,
            links=self._links,
        )

    @workflow.query(description="The downsampled metrics series (step, loss, evalLoss, lr).")
    def metrics(self) -> list[MetricPoint]:
        return self._progress.series

    # -- main -------------------------------------------------------------------

    @workflow.run
    async def run(self, run_input: RunInput) -> RunResult:
        if self._progress.origin_epoch is None:
            self._progress.origin_epoch = workflow.now().timestamp()
        stream: StreamHandle | None = None
        try:
            job = self._job or await self._start_job()
            while True:
                if stream is None and self._stop is None:
                    stream = self._start_stream(job)
                await self._wait_for_change(stream)
                if stream is not None and stream.done() and self._stop is None:
                    return self._finish(job, await self._stream_outcome(job, stream))
                if self._stop is not None:
                    return await self._stop_run(job, stream)
                assert stream is not None
                await self._continue_as_new(job, stream)  # returns only if a stop came first
        except asyncio.CancelledError:
            await self._cancelled_by_temporal(stream)
            raise

    async def _start_job(self) -> JobRef:
        info = workflow.info()
        creation = workflow.start_activity_method(
            JobActivities.create_or_adopt_job,
            StartJobInput(
                spec=self._spec, marker=f"{info.workflow_id}/{info.first_execution_run_id}"
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=START_RETRY,
            summary=f"create job {self._spec.name} ({self._spec.model})"[:200],
        )
        try:
            # Shielded: a Temporal cancel must not abandon a job being created (see below).
            job = await asyncio.shield(creation)
        except asyncio.CancelledError:
            with contextlib.suppress(ActivityError):
                self._job = await creation
            raise
        except ActivityError as exc:
            reason = f"could not create the job: {_why(exc)}"
            raise self._failure(None, "StartFailed", reason) from exc
        self._job = job
        self._progress.phase = Phase.QUEUED
        workflow.upsert_search_attributes([sa.JOB_ID.value_set(job.job_id)])
        self._publish()
        return job

    def _start_stream(self, job: JobRef) -> StreamHandle:
        orchestration = self._spec.orchestration
        info = workflow.info()
        return workflow.start_activity_method(
            StreamActivities.follow_job_events,
            FollowInput(
                job_id=job.job_id,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                resume_after=self._progress.cursor,
                flush_seconds=orchestration.metrics_flush_seconds,
                stop_rules=self._spec.stop_rules,
            ),
            start_to_close_timeout=STREAM_START_TO_CLOSE,
            heartbeat_timeout=timedelta(seconds=orchestration.heartbeat_timeout_seconds),
            retry_policy=STREAM_RETRY,
            summary=f"follow events of job {job.job_id}",
        )

    async def _wait_for_change(self, stream: StreamHandle | None) -> None:
        """Until the stream ends, a stop is decided, or continuing as new is due."""

        def changed() -> bool:
            return (
                self._stop is not None
                or (stream is not None and stream.done())
                or self._should_continue_as_new()
            )

        while not changed():
            remaining = self._until_deadline()
            if remaining is None:
                await workflow.wait_condition(changed)
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    changed, timeout=remaining, timeout_summary="run deadline"
                )

    def _until_deadline(self) -> timedelta | None:
        """Time left before the nearest deadline; records a stop when one has passed."""
        deadlines = self._spec.deadlines
        origin = self._progress.origin_epoch
        if deadlines is None or origin is None:
            return None
        elapsed = workflow.now().timestamp() - origin
        limits = []
        if deadlines.max_duration is not None:
            limits.append(("maxDuration", deadlines.max_duration))
        if deadlines.max_queued is not None and self._progress.phase in (
            Phase.SUBMITTING,
            Phase.QUEUED,
        ):
            limits.append(("maxQueued", deadlines.max_queued))
        if not limits:
            return None
        name, limit = min(limits, key=lambda item: item[1])
        if elapsed < limit:
            return timedelta(seconds=limit - elapsed)
        what = (
            "the run took longer than" if name == "maxDuration" else "training did not start within"
        )
        self._request_stop(
            StopDecision(
                kind=StopKind.DEADLINE,
                reason=f"deadline {name}: {what} {limit:g}s",
                requested_by="deadlines",
                rule=name,
                values={"limitSeconds": limit, "elapsedSeconds": round(elapsed, 3)},
            )
        )
        return None

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._spec.orchestration.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    async def _stream_outcome(self, job: JobRef, stream: StreamHandle) -> StreamOutcome:
        try:
            outcome = await stream
        except ActivityError as exc:
            snapshot = await self._read_status(job)
            raise self._failure(
                job,
                "FollowFailed",
                f"lost the job's event stream ({_why(exc)}); the job is {snapshot.status}",
            ) from exc
        self._apply(outcome.tail)
        return outcome

    async def _read_status(self, job: JobRef) -> JobSnapshot:
        return await workflow.execute_activity_method(
            JobActivities.read_job_status,
            job.job_id,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5),
            summary=f"read status of job {job.job_id}",
        )

    async def _continue_as_new(self, job: JobRef, stream: StreamHandle) -> None:
        stream.cancel()
        with contextlib.suppress(ActivityError):
            await stream  # cancelled on purpose; the next run resumes after our cursor
        # A cancel update waits for the backend, so it would never let handlers finish.
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() or self._stop is not None
        )
        if self._stop is not None:
            return
        workflow.continue_as_new(
            RunInput(
                spec=self._spec,
                carried=CarriedState(job=job, progress=self._progress, links=self._links + 1),
            )
        )

    # -- stopping ---------------------------------------------------------------

    def _request_stop(self, decision: StopDecision) -> bool:
        """Record why the run ends early; return whether this decision is the one in effect.

        Once the job's own end is known there is nothing left to stop.
        """
        if self._stop is not None or self._progress.terminal_event is not None:
            return False
        self._stop = decision
        workflow.logger.info("stopping run: %s (by %s)", decision.reason, decision.requested_by)
        self._publish()
        return True

    async def _cancel_backend(self, job: JobRef) -> JobSnapshot:
        reason = self._stop.reason if self._stop else "cancel"
        snapshot = await workflow.execute_activity_method(
            JobActivities.cancel_job,
            job.job_id,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=CANCEL_RETRY,
            summary=f"cancel job {job.job_id}: {reason}"[:200],
        )
        self._confirmed = snapshot
        return snapshot

    async def _stop_run(self, job: JobRef, stream: StreamHandle | None) -> RunResult:
        assert self._stop is not None
        snapshot = await self._cancel_backend(job)
        if stream is not None and snapshot.status == "completed" and not stream.done():
            # The job finished before the cancel landed: keep its last events and artifacts.
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    stream.done, timeout=COMPLETED_TAIL_GRACE, timeout_summary="last events"
                )
        outcome = await self._settle(stream)
        if snapshot.status == "completed":
            return self._finish(job, outcome or StreamOutcome(tail=[], final_status="completed"))
        reason = self._stop.reason
        if snapshot.status == "failed":
            # The backend may report a cancelled job as failed; say so rather than guess.
            reason += f" (the backend reports the job failed: {snapshot.error or 'no error given'})"
        return self._conclude(job, self._stop.run_status, reason)

    async def _settle(self, stream: StreamHandle | None) -> StreamOutcome | None:
        """Cancel the stream if it still runs; return its outcome if it had one."""
        if stream is None:
            return None
        if not stream.done():
            stream.cancel()
        try:
            outcome = await stream
        except (ActivityError, asyncio.CancelledError):
            return None
        self._apply(outcome.tail)
        return outcome

    async def _cancelled_by_temporal(self, stream: StreamHandle | None) -> None:
        """Temporal cancellation (Web UI, ``temporal workflow cancel``): stop the job, then end."""
        self._request_stop(
            StopDecision(
                kind=StopKind.WORKFLOW_CANCEL,
                reason=workflow.cancellation_reason() or "cancelled through Temporal",
                requested_by="temporal",
            )
        )
        if self._job is not None:
            await asyncio.shield(asyncio.ensure_future(self._cancel_backend(self._job)))
        if stream is not None and not stream.done():
            stream.cancel()
        self._progress.phase = Phase.CANCELLED
        self._finished = self._result(self._job, RunStatus.CANCELLED, self._stop_reason())
        self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _stop_reason(self) -> str:
        return self._stop.reason if self._stop else "cancelled"

    # -- state ------------------------------------------------------------------

    def _apply(self, events: list[RunEvent]) -> None:
        max_points = self._spec.orchestration.metrics_points
        rules = self._spec.stop_rules
        changed = False
        for event in events:
            if not apply_event(self._progress, event, max_points):
                continue
            changed = True
            if rules is not None:
                verdict = observe(rules, self._progress.rules, event)
                if verdict is not None:
                    self._request_stop(verdict)
        if changed:
            self._publish()

    def _finish(self, job: JobRef, outcome: StreamOutcome) -> RunResult:
        terminal = self._progress.terminal_event
        if terminal is not None and terminal.type == EventType.COMPLETED:
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
        if status is RunStatus.FAILED:
            raise self._failure(job, "TrainingFailed", reason)
        return self._conclude(job, status, reason)

    def _conclude(self, job: JobRef | None, status: RunStatus, reason: str) -> RunResult:
        self._progress.phase = Phase(status.value)
        self._finished = self._result(job, status, reason)
        self._publish()
        return self._finished

    def _failure(self, job: JobRef | None, kind: str, reason: str) -> ApplicationError:
        result = self._conclude(job, RunStatus.FAILED, reason)
        return ApplicationError(reason, result, type=kind, non_retryable=True)

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
            stop=self._stop if status in (RunStatus.CANCELLED, RunStatus.STOPPED) else None,
            continued_as_new=self._links,
        )

    def _ack(self, outcome: str) -> CancelAck:
        confirmed, finished = self._confirmed, self._finished
        if outcome != "already_finished":
            reason = self._stop_reason()
        elif finished is not None:
            reason = finished.reason
        else:
            reason = "the job had already ended; nothing to cancel"
        return CancelAck(
            outcome=outcome,
            run_status=finished.status.value if finished else self._progress.phase.value,
            job_id=self._job.job_id if self._job else None,
            backend_status=confirmed.status if confirmed else None,
            reason=reason,
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
        if self._stop is not None:
            lines.append(f"- stopping: {self._stop.reason} (by {self._stop.requested_by})")
        if self._links:
            lines.append(f"- continued as new: {self._links} times")
        return "\n".join(lines)


def _why(error: ActivityError) -> str:
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
