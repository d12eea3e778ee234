"""The training-run workflow: one Arkor job, created once, followed to its end, stopped on demand.

Shape (README, "How a run works"):

1. ``create_or_adopt_job`` with a marker unique to this workflow run.
2. ``follow_job_events``: one long activity that relays events in batches
   through the ``relay_events`` signal and returns the stream's tail.
   :mod:`arkor_temporal.core.progress` applies each event exactly once and
   :mod:`arkor_temporal.core.stop_rules` judges each log.
3. Every way of ending a run early (the ``cancel`` update, the
   ``request_cancel`` signal, a stop rule, a deadline, a critical hook, Temporal
   cancellation) records one :class:`StopDecision` (the first wins) and
   converges on the ``cancel_job`` activity, which returns once the backend
   shows the job terminal. The stream activity is cancelled only afterwards and
   never waited on.
4. Continue-as-new when Temporal suggests it (or past the spec's own
   threshold), carrying the job and the progress; the new run resumes the
   stream after the last applied event.

This class is the run's main line and its state. Beside it:
:mod:`~arkor_temporal.workflows.evaluator`, :mod:`~arkor_temporal.workflows.hook_runner`
and :mod:`~arkor_temporal.workflows.notifier` (work started as events arrive, in
:mod:`~arkor_temporal.workflows.in_flight`), :mod:`~arkor_temporal.core.deadlines`
(the deadline rule), :mod:`~arkor_temporal.workflows.details` (the Web UI's
details) and :mod:`~arkor_temporal.workflows.policies` (timeouts and retries).

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
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

from arkor_temporal.workflows.details import details_markdown
from arkor_temporal.workflows.evaluator import CheckpointEvaluator
from arkor_temporal.workflows.hook_runner import HookRunner
from arkor_temporal.workflows.in_flight import WorkInFlight
from arkor_temporal.workflows.notifier import Notifier
from arkor_temporal.workflows.policies import (
    CANCEL_REQUEST_GRACE,
    CANCEL_RETRY,
    CANCEL_START_TO_CLOSE,
    CLOSE_AS_CANCELED_RETRY,
    CLOSE_AS_CANCELED_START_TO_CLOSE,
    COMPLETED_TAIL_GRACE,
    CREATE_JOB_START_TO_CLOSE,
    READ_STATUS_RETRY,
    READ_STATUS_START_TO_CLOSE,
    START_RETRY,
    STOPPED_TAIL_GRACE,
    STREAM_RETRY,
    STREAM_START_TO_CLOSE,
    WORK_IN_FLIGHT_GRACE,
    task_queues,
)

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.activities.closing import close_as_canceled
    from arkor_temporal.activities.jobs import JobActivities
    from arkor_temporal.activities.stream import StreamActivities
    from arkor_temporal.core import search_attributes as sa
    from arkor_temporal.core.deadlines import check_deadlines
    from arkor_temporal.core.evals import CheckpointEval, best_checkpoint
    from arkor_temporal.core.failures import activity_failure_text
    from arkor_temporal.core.models import (
        CancelAck,
        CancelOutcome,
        CancelRequest,
        CarriedState,
        CloseAsCanceled,
        EvalPoint,
        EventBatch,
        EventType,
        FollowInput,
        JobRef,
        JobSnapshot,
        JobState,
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
        StreamOrigin,
        StreamOutcome,
    )
    from arkor_temporal.core.names import (
        RESULT_MEMO,
        SCHEDULED_START_TIME,
        FailureType,
        TrainingRunMessage,
        WorkflowMetric,
        WorkflowName,
        run_marker,
    )
    from arkor_temporal.core.naming import is_template, render_run_name
    from arkor_temporal.core.notifications import NotifyEvent
    from arkor_temporal.core.progress import apply_batch
    from arkor_temporal.core.spec import RunSpec
    from arkor_temporal.core.stop_rules import observe

StreamHandle = workflow.ActivityHandle[StreamOutcome]
# Relayed events are judged by stream position, not by step, from this patch on.
STREAM_POSITION_PATCH = "dedupe-by-stream-position"
# From this patch on, a stopped run lets its stream end by itself and keeps its tail.
STOPPED_TAIL_PATCH = "keep-stream-tail-after-stop"
# From this patch on, a cancelled run keeps its result in its memo and closes as Canceled.
CANCELED_STATUS_PATCH = "close-cancelled-runs-as-canceled"
# From this patch on, the Trainer's end-of-training summary log (the mean train loss at the
# last step) is recorded as such: not the last loss, not a curve point, not judged by rules.
SUMMARY_LOG_PATCH = "summary-log-is-not-the-last-loss"


class _RunEnds(Exception):
    """Raised inside the workflow when the run cannot go on; caught by ``run``."""

    def __init__(self, reason: str, failure_type: FailureType) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure_type = failure_type


@workflow.defn(name=WorkflowName.TRAINING_RUN)
class TrainingRun:
    @workflow.init
    def __init__(self, run_input: RunInput) -> None:
        carried = run_input.carried
        # Rendered here so the collaborators below hold the final name; published by ``run``.
        self._renamed = carried is None and is_template(run_input.spec.name)
        self._spec = _scheduled_name(run_input.spec) if self._renamed else run_input.spec
        self._job: JobRef | None = carried.job if carried else None
        self._progress = carried.progress if carried else RunProgressState()
        self._links = carried.links if carried else 0
        self._stop: StopDecision | None = None
        self._confirmed: JobSnapshot | None = None
        self._finished: RunResult | None = None
        self._shown_phase: Phase | None = None
        self._shown_step = 0
        self._shown_best: float | None = None
        self._failure_type = FailureType.TRAINING_FAILED  # the error type of a failed run
        self._stream: StreamHandle | None = None
        self._work = WorkInFlight()
        self._notifier = Notifier(self._spec, self._progress)
        self._hooks = HookRunner(
            self._spec, self._progress, spawn=self._work.spawn, request_stop=self._request_stop
        )
        self._evaluator = CheckpointEvaluator(
            self._spec,
            self._progress,
            spawn=self._work.spawn,
            notifier=self._notifier,
            request_stop=self._request_stop,
            publish=self._publish,
        )

    # -- messages ---------------------------------------------------------------

    @workflow.signal(
        name=TrainingRunMessage.RELAY_EVENTS,
        description="Internal: backend events relayed by the stream activity, deduplicated here.",
    )
    def relay_events(self, batch: EventBatch) -> None:
        self._apply(batch.events, batch.origin)

    @workflow.update(
        name=TrainingRunMessage.CANCEL,
        description="Cancel the run: the backend job is cancelled; answers once the backend "
        "shows it terminal, with the run's outcome. Argument: {reason, requested_by}.",
    )
    async def cancel(self, request: CancelRequest) -> CancelAck:
        if self._finished is not None or self._progress.terminal_event is not None:
            return self._ack(CancelOutcome.ALREADY_FINISHED)
        first = self._request_stop(
            StopDecision(
                kind=StopKind.OPS_CANCEL, reason=request.reason, requested_by=request.requested_by
            )
        )
        # The run concludes right after the backend confirms; answer with that outcome.
        await workflow.wait_condition(lambda: self._finished is not None)
        return self._ack(CancelOutcome.CANCELLED if first else CancelOutcome.ALREADY_REQUESTED)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if not request.reason.strip() or not request.requested_by.strip():
            raise ValueError("reason and requested_by must not be blank")

    @workflow.signal(
        name=TrainingRunMessage.REQUEST_CANCEL,
        description="Cancel the run, for tools that can only signal; same effect as the "
        "cancel update, without an answer. Argument: {reason, requested_by}.",
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

    @workflow.query(
        name=TrainingRunMessage.STATUS,
        description="Phase, step, job id, metrics summary, checkpoints, stop reason.",
    )
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
            evals=[
                EvalPoint(step=e.step, score=e.score, passed=e.passed, delta=e.delta, error=e.error)
                for e in self._progress.evals
            ],
            best_eval_step=best.step if (best := best_checkpoint(self._progress.evals)) else None,
            links=self._links,
            hook_failures=self._progress.hook_failures,
            notifications=self._progress.deliveries,
        )

    @workflow.query(
        name=TrainingRunMessage.EVALUATIONS,
        description="Per-checkpoint evaluations, with per-case results and samples.",
    )
    def evaluations(self) -> list[CheckpointEval]:
        return self._progress.evals

    @workflow.query(
        name=TrainingRunMessage.METRICS,
        description="The downsampled metrics series (step, loss, evalLoss, lr).",
    )
    def metrics(self) -> list[MetricPoint]:
        return self._progress.series

    # -- main -------------------------------------------------------------------

    @workflow.run
    async def run(self, run_input: RunInput) -> RunResult:
        if self._progress.origin_epoch is None:
            self._progress.origin_epoch = workflow.now().timestamp()
        if self._renamed:
            workflow.upsert_search_attributes([sa.RUN_NAME.value_set(self._spec.name)])
        try:
            result = await self._drive()
        except asyncio.CancelledError:
            await self._cancelled_by_temporal()
            raise
        if result.status is RunStatus.FAILED:
            raise ApplicationError(
                result.reason, result, type=self._failure_type, non_retryable=True
            )
        if result.status is RunStatus.CANCELLED and workflow.patched(CANCELED_STATUS_PATCH):
            await self._close_as_canceled()
        return result

    async def _close_as_canceled(self) -> None:
        """Have Temporal cancel this run (activities/closing.py), which then ends Canceled.

        The cancel request interrupts the waits below and ends the run from ``run``; should
        it never come, the run completes with the same result after a grace.
        """
        info = workflow.info()
        request = CloseAsCanceled(
            workflow_id=info.workflow_id, run_id=info.run_id, reason=self._stop_reason()
        )
        with contextlib.suppress(ActivityError):
            await workflow.execute_activity(
                close_as_canceled,
                request,
                start_to_close_timeout=CLOSE_AS_CANCELED_START_TO_CLOSE,
                retry_policy=CLOSE_AS_CANCELED_RETRY,
                summary="close as Canceled",
            )
        if workflow.cancellation_reason() is not None:
            # The request came while the activity ran: its handle ended with an ActivityError.
            raise asyncio.CancelledError(request.reason)
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                lambda: False, timeout=CANCEL_REQUEST_GRACE, timeout_summary="cancel request"
            )

    async def _drive(self) -> RunResult:
        """Follow the run to its end and conclude it."""
        job = self._job
        try:
            job = job or await self._start_job()
            while True:
                if self._stream is None and self._stop is None:
                    self._stream = self._start_stream(job)
                stream = self._stream
                await self._wait_for_change(stream)
                if stream is not None and stream.done() and self._stop is None:
                    status, reason = self._outcome(await self._stream_outcome(job, stream))
                    break
                if self._stop is not None:
                    status, reason = await self._stop_job(job, stream)
                    break
                assert stream is not None
                await self._continue_as_new(job, stream)  # returns only if a stop came first
        except _RunEnds as ending:
            self._failure_type = ending.failure_type
            return await self._end(job, RunStatus.FAILED, ending.reason)
        return await self._end(job, status, reason)

    async def _start_job(self) -> JobRef:
        info = workflow.info()
        creation = workflow.start_activity_method(
            JobActivities.create_or_adopt_job,
            StartJobInput(
                spec=self._spec, marker=run_marker(info.workflow_id, info.first_execution_run_id)
            ),
            start_to_close_timeout=CREATE_JOB_START_TO_CLOSE,
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
            raise _RunEnds(
                f"could not create the job: {activity_failure_text(exc)}", FailureType.START_FAILED
            ) from exc
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
                job_lost_after_seconds=orchestration.job_lost_after_seconds,
                stop_rules=self._spec.stop_rules,
                max_steps=self._spec.max_steps,
                urgent_checkpoints=self._acts_on_checkpoints(),
            ),
            task_queue=task_queues().streams,
            start_to_close_timeout=STREAM_START_TO_CLOSE,
            heartbeat_timeout=timedelta(seconds=orchestration.heartbeat_timeout_seconds),
            retry_policy=STREAM_RETRY,
            summary=f"follow events of job {job.job_id}",
        )

    def _acts_on_checkpoints(self) -> bool:
        """Whether a checkpoint starts work (an evaluation, a hook) and so cannot wait."""
        hooks = self._spec.hooks
        return self._spec.evals is not None or (
            hooks is not None and hooks.on_checkpoint is not None
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
        verdict = check_deadlines(
            self._spec.deadlines,
            origin_epoch=self._progress.origin_epoch,
            now_epoch=workflow.now().timestamp(),
            phase=self._progress.phase,
        )
        if isinstance(verdict, StopDecision):
            self._request_stop(verdict)
            return None
        return verdict

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
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == FailureType.JOB_LOST:
                raise _RunEnds(activity_failure_text(exc), FailureType.JOB_LOST) from exc
            snapshot = await self._read_status(job)
            raise _RunEnds(
                f"lost the job's event stream ({activity_failure_text(exc)}); "
                f"the job is {snapshot.status}",
                FailureType.FOLLOW_FAILED,
            ) from exc
        self._apply(outcome.tail, outcome.tail_origin)
        return outcome

    async def _read_status(self, job: JobRef) -> JobSnapshot:
        return await workflow.execute_activity_method(
            JobActivities.read_job_status,
            job.job_id,
            start_to_close_timeout=READ_STATUS_START_TO_CLOSE,
            retry_policy=READ_STATUS_RETRY,
            summary=f"read status of job {job.job_id}",
        )

    async def _continue_as_new(self, job: JobRef, stream: StreamHandle) -> None:
        stream.cancel()
        with contextlib.suppress(ActivityError):
            await stream  # cancelled on purpose; the next run resumes after our cursor
        # Evaluations and hooks in flight finish in this run (their results are state to
        # carry). A cancel update waits for the backend, so it would never let handlers
        # finish: a stop ends the wait and takes over.
        await workflow.wait_condition(
            lambda: (
                (workflow.all_handlers_finished() and self._work.idle()) or self._stop is not None
            )
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
        ended = self._progress.terminal_event is not None or self._finished is not None
        if self._stop is not None or ended:
            return False
        self._stop = decision
        if decision.kind is StopKind.CRITICAL_HOOK:  # the run fails for this hook
            self._failure_type = FailureType.CRITICAL_HOOK_FAILED
        workflow.logger.info("stopping run: %s (by %s)", decision.reason, decision.requested_by)
        self._publish()
        return True

    async def _cancel_backend(self, job: JobRef) -> JobSnapshot:
        reason = self._stop.reason if self._stop else "cancel"
        snapshot = await workflow.execute_activity_method(
            JobActivities.cancel_job,
            job.job_id,
            start_to_close_timeout=CANCEL_START_TO_CLOSE,
            retry_policy=CANCEL_RETRY,
            summary=f"cancel job {job.job_id}: {reason}"[:200],
        )
        self._confirmed = snapshot
        return snapshot

    async def _stop_job(self, job: JobRef, stream: StreamHandle | None) -> tuple[RunStatus, str]:
        """Cancel the backend job for the decision in effect; return the run's outcome."""
        assert self._stop is not None
        snapshot = await self._cancel_backend(job)
        if stream is not None and snapshot.status is JobState.COMPLETED and not stream.done():
            # The job finished before the cancel landed: keep its last events and artifacts.
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    stream.done, timeout=COMPLETED_TAIL_GRACE, timeout_summary="last events"
                )
        if (
            stream is not None
            and not stream.done()
            and snapshot.status in (JobState.CANCELLED, JobState.FAILED)
            and workflow.patched(STOPPED_TAIL_PATCH)
        ):
            # The job is over, so its stream ends by itself and returns the logs not
            # relayed yet (up to a flush window of them); the run concludes meanwhile.
            self._work.spawn(self._stopped_tail(stream))
            outcome = None
        else:
            outcome = await self._settle(stream)
        if snapshot.status is JobState.COMPLETED:
            return self._outcome(outcome or StreamOutcome(tail=[], final_status=JobState.COMPLETED))
        reason = self._stop.reason
        if snapshot.status is JobState.FAILED:
            # The backend may report a cancelled job as failed; say so rather than guess.
            reason += f" (the backend reports the job failed: {snapshot.error or 'no error given'})"
        return self._stop.run_status, reason

    async def _settle(
        self, stream: StreamHandle | None, *, start_work: bool = True
    ) -> StreamOutcome | None:
        """Cancel the stream if it still runs; return its outcome if it had one."""
        if stream is None:
            return None
        if not stream.done():
            stream.cancel()
        try:
            outcome = await stream
        except (ActivityError, asyncio.CancelledError):
            return None
        self._apply(outcome.tail, outcome.tail_origin, start_work=start_work)
        return outcome

    async def _stopped_tail(self, stream: StreamHandle) -> None:
        """A stopped run's last events, for its result: no evaluation or hook starts for them."""
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                stream.done, timeout=STOPPED_TAIL_GRACE, timeout_summary="last events"
            )
        await self._settle(stream, start_work=False)

    async def _cancelled_by_temporal(self) -> None:
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
        if self._stream is not None and not self._stream.done():
            self._stream.cancel()
        await self._end(self._job, RunStatus.CANCELLED, self._stop_reason())
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _stop_reason(self) -> str:
        return self._stop.reason if self._stop else "cancelled"

    # -- state ------------------------------------------------------------------

    def _apply(
        self, events: list[RunEvent], origin: StreamOrigin | None, *, start_work: bool = True
    ) -> None:
        """Apply relayed events once each, and start what each new event calls for."""
        # By stream position from the first batch that says where it starts (the patch
        # marks that point in history); before it, and for old senders, by step.
        by_position = origin is not None and workflow.patched(STREAM_POSITION_PATCH)
        logs: list[RunEvent] = []
        dropped = self._progress.ledger.duplicates_dropped
        applied = apply_batch(
            self._progress,
            events,
            origin if by_position else None,
            self._spec.orchestration.metrics_points,
            summary_logs=lambda: workflow.patched(SUMMARY_LOG_PATCH),
        )
        _count(WorkflowMetric.EVENTS_APPLIED, len(applied), "relayed events applied, once each")
        _count(
            WorkflowMetric.EVENTS_DUPLICATE,
            self._progress.ledger.duplicates_dropped - dropped,
            "relayed events dropped as repeats of applied ones",
        )
        for event in applied if start_work else []:
            if event.type == EventType.LOG:
                logs.append(event)
                if not self._is_summary(event):
                    self._judge(event)
            elif event.type == EventType.STARTED:
                self._hooks.started(self._job)
            elif event.type == EventType.CHECKPOINT and event.step is not None:
                self._checkpoint_saved(event.step, event.artifacts or [])
        if logs:
            self._hooks.logged(self._job, logs)
        if applied:
            self._publish()

    def _is_summary(self, log: RunEvent) -> bool:
        summary_id = self._progress.summary_log_id
        return summary_id is not None and log.event_id == summary_id

    def _judge(self, log: RunEvent) -> None:
        rules = self._spec.stop_rules
        if rules is not None:
            verdict = observe(rules, self._progress.rules, log)
            if verdict is not None:
                self._request_stop(verdict)

    def _checkpoint_saved(self, step: int, artifacts: list[Any]) -> None:
        job = self._job
        assert job is not None
        # The evaluation first: recorded histories schedule its activity before the hook's.
        self._evaluator.checkpoint_saved(job, step)
        self._hooks.checkpoint_saved(job, step, artifacts)

    def _outcome(self, outcome: StreamOutcome) -> tuple[RunStatus, str]:
        """The run's status and reason from how the job's stream ended."""
        terminal = self._progress.terminal_event
        if terminal is not None and terminal.type == EventType.COMPLETED:
            return RunStatus.COMPLETED, "training completed"
        if terminal is not None:
            return RunStatus.FAILED, terminal.error or "training failed"
        if outcome.final_status is JobState.COMPLETED:
            return RunStatus.COMPLETED, "job completed (confirmed by the job's status)"
        if outcome.final_status is JobState.CANCELLED:
            return RunStatus.CANCELLED, "the job was cancelled outside this workflow"
        return (
            RunStatus.FAILED,
            outcome.final_error or f"job ended with status {outcome.final_status}",
        )

    def _conclude(self, job: JobRef | None, status: RunStatus, reason: str) -> RunResult:
        self._progress.phase = Phase(status.value)
        self._finished = self._result(job, status, reason)
        self._publish()
        return self._finished

    async def _end(self, job: JobRef | None, status: RunStatus, reason: str) -> RunResult:
        """Conclude the run: work in flight finishes, the end hook runs, notifications go out.

        The outcome is known (and answered to cancel callers) before any of this, so a
        slow evaluation or webhook never delays it; only a critical end hook can still
        turn the run into a failure.
        """
        self._conclude(job, status, reason)
        await self._work.drain(WORK_IN_FLIGHT_GRACE)
        hook = await self._hooks.run_end_hook(job, status, reason)
        if hook is not None and not hook.ok and hook.critical and status is not RunStatus.FAILED:
            status, reason = RunStatus.FAILED, f"critical hook failed: {hook.error}"
            self._failure_type = FailureType.CRITICAL_HOOK_FAILED
        await self._notifier.notify(NotifyEvent(status.value), job, status, reason)
        result = self._conclude(job, status, reason)
        if status is RunStatus.CANCELLED and workflow.patched(CANCELED_STATUS_PATCH):
            # A Canceled execution has no result payload: clients read this instead.
            workflow.upsert_memo({RESULT_MEMO: result})
        return result

    def _result(self, job: JobRef | None, status: RunStatus, reason: str) -> RunResult:
        terminal = self._progress.terminal_event
        return RunResult(
            status=status,
            reason=reason,
            run_name=self._spec.name,
            job_id=job.job_id if job else None,
            max_steps=self._spec.max_steps,
            artifacts=(terminal.artifacts or []) if terminal else [],
            metrics=self._progress.summary,
            series=self._progress.series,
            checkpoints=self._progress.checkpoints,
            ledger=self._progress.ledger,
            stop=self._stop if status in (RunStatus.CANCELLED, RunStatus.STOPPED) else None,
            evals=self._progress.evals,
            best_checkpoint=best_checkpoint(self._progress.evals),
            hook_failures=self._progress.hook_failures,
            notifications=self._progress.deliveries,
            continued_as_new=self._links,
        )

    def _ack(self, outcome: CancelOutcome) -> CancelAck:
        confirmed, finished = self._confirmed, self._finished
        if outcome is not CancelOutcome.ALREADY_FINISHED:
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
        best = best_checkpoint(progress.evals)
        if best is not None and best.score != self._shown_best:
            self._shown_best = best.score
            updates.append(sa.BEST_EVAL.value_set(best.score or 0.0))
        if updates:
            workflow.upsert_search_attributes(updates)
        finished = self._finished
        workflow.set_current_details(
            details_markdown(
                self._spec,
                progress,
                job=self._job,
                stop=self._stop,
                links=self._links,
                now_epoch=workflow.now().timestamp(),
                outcome=(finished.status.value, finished.reason) if finished else None,
            )
        )


def _count(metric: WorkflowMetric, amount: int, description: str) -> None:
    """Add to a counter of the SDK's meter, which records nothing while replaying."""
    if amount > 0:
        workflow.metric_meter().create_counter(metric.value, description).add(amount)


def _scheduled_name(spec: RunSpec) -> RunSpec:
    """``nightly-{date}`` rendered once, with the scheduled time when a Schedule started us."""
    info = workflow.info()
    when = info.typed_search_attributes.get(SCHEDULED_START_TIME) or info.start_time
    return spec.model_copy(update={"name": render_run_name(spec.name, when)})
