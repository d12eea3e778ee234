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
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.activities.evaluation import EvalActivities
    from arkor_temporal.activities.hooks import HookActivities
    from arkor_temporal.activities.jobs import JobActivities
    from arkor_temporal.activities.notify import NotifyActivities
    from arkor_temporal.activities.stream import RELAY_SIGNAL, StreamActivities
    from arkor_temporal.core import search_attributes as sa
    from arkor_temporal.core.evals import (
        CheckpointEval,
        EvalInput,
        best_checkpoint,
        eval_table_markdown,
    )
    from arkor_temporal.core.hooks import (
        CancelledArgs,
        CheckpointArgs,
        CompletedArgs,
        FailedArgs,
        HookArgs,
        HookOutcome,
        LogBatchArgs,
        LogEntry,
        StartedArgs,
    )
    from arkor_temporal.core.models import (
        CancelAck,
        CancelRequest,
        CarriedState,
        EvalPoint,
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
    from arkor_temporal.core.naming import is_template, render_run_name
    from arkor_temporal.core.notifications import (
        DeliveryRecord,
        NotificationContext,
        NotificationInput,
        NotifyEvent,
        plan_notifications,
    )
    from arkor_temporal.core.progress import apply_event
    from arkor_temporal.core.stop_rules import observe, observe_evals

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
# How long evaluations and hooks still running when the job ends may take to finish.
WORK_IN_FLIGHT_GRACE = timedelta(minutes=10)
EVAL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3)
NOTIFY_ATTEMPTS = 5
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=NOTIFY_ATTEMPTS,
)

StreamHandle = workflow.ActivityHandle[StreamOutcome]
CRITICAL_HOOK_FAILED = "CriticalHookFailed"
# Set by Temporal on runs a Schedule starts.
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


class _RunEnds(Exception):
    """Raised inside the workflow when the run cannot go on; caught by ``run``."""

    def __init__(self, reason: str, failure_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure_type = failure_type


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
        self._shown_best: float | None = None
        self._failure_type = "TrainingFailed"  # the ApplicationError type of a failed run
        self._stream: StreamHandle | None = None
        self._work: set[asyncio.Task[object]] = set()  # evaluations, hooks, notices in flight
        evals = self._spec.evals
        self._eval_slots = asyncio.Semaphore(evals.concurrency if evals else 1)

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
            evals=[
                EvalPoint(step=e.step, score=e.score, passed=e.passed, delta=e.delta, error=e.error)
                for e in self._progress.evals
            ],
            best_eval_step=best.step if (best := best_checkpoint(self._progress.evals)) else None,
            links=self._links,
        )

    @workflow.query(description="Per-checkpoint evaluations, with per-case results and samples.")
    def evaluations(self) -> list[CheckpointEval]:
        return self._progress.evals

    @workflow.query(description="The downsampled metrics series (step, loss, evalLoss, lr).")
    def metrics(self) -> list[MetricPoint]:
        return self._progress.series

    # -- main -------------------------------------------------------------------

    @workflow.run
    async def run(self, run_input: RunInput) -> RunResult:
        if self._progress.origin_epoch is None:
            self._progress.origin_epoch = workflow.now().timestamp()
        if run_input.carried is None and is_template(self._spec.name):
            self._render_scheduled_name()
        try:
            result = await self._drive()
        except asyncio.CancelledError:
            await self._cancelled_by_temporal()
            raise
        if result.status is RunStatus.FAILED:
            raise ApplicationError(
                result.reason, result, type=self._failure_type, non_retryable=True
            )
        return result

    def _render_scheduled_name(self) -> None:
        """``nightly-{date}``: rendered once, with the scheduled time when a Schedule started us."""
        info = workflow.info()
        when = info.typed_search_attributes.get(SCHEDULED_START_TIME) or info.start_time
        self._spec = self._spec.model_copy(update={"name": render_run_name(self._spec.name, when)})
        workflow.upsert_search_attributes([sa.RUN_NAME.value_set(self._spec.name)])

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
            raise _RunEnds(f"could not create the job: {_why(exc)}", "StartFailed") from exc
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
            raise _RunEnds(
                f"lost the job's event stream ({_why(exc)}); the job is {snapshot.status}",
                "FollowFailed",
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
        # Evaluations and hooks in flight finish in this run (their results are state to
        # carry). A cancel update waits for the backend, so it would never let handlers
        # finish: a stop ends the wait and takes over.
        await workflow.wait_condition(
            lambda: (workflow.all_handlers_finished() and not self._work) or self._stop is not None
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

    async def _stop_job(self, job: JobRef, stream: StreamHandle | None) -> tuple[RunStatus, str]:
        """Cancel the backend job for the decision in effect; return the run's outcome."""
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
            return self._outcome(outcome or StreamOutcome(tail=[], final_status="completed"))
        reason = self._stop.reason
        if snapshot.status == "failed":
            # The backend may report a cancelled job as failed; say so rather than guess.
            reason += f" (the backend reports the job failed: {snapshot.error or 'no error given'})"
        return self._stop.run_status, reason

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

    def _apply(self, events: list[RunEvent]) -> None:
        """Apply relayed events once each, and start what each new event calls for."""
        max_points = self._spec.orchestration.metrics_points
        logs: list[LogEntry] = []
        applied = [e for e in events if apply_event(self._progress, e, max_points)]
        for event in applied:
            if event.type == EventType.LOG:
                logs.append(_log_entry(event))
                self._judge(event)
            elif event.type == EventType.STARTED:
                self._hook_later(
                    StartedArgs(
                        **self._hook_ids(), model=self._spec.model, max_steps=self._spec.max_steps
                    )
                )
            elif event.type == EventType.CHECKPOINT and event.step is not None:
                self._checkpoint_saved(event.step, event.artifacts or [])
        if logs:
            self._hook_later(LogBatchArgs(**self._hook_ids(), logs=logs))
        if applied:
            self._publish()

    def _judge(self, log: RunEvent) -> None:
        rules = self._spec.stop_rules
        if rules is not None:
            verdict = observe(rules, self._progress.rules, log)
            if verdict is not None:
                self._request_stop(verdict)

    def _checkpoint_saved(self, step: int, artifacts: list[Any]) -> None:
        job = self._job
        assert job is not None
        if self._spec.evals is not None:
            self._spawn(self._evaluate(job, step))
        self._hook_later(CheckpointArgs(**self._hook_ids(), step=step, artifacts=artifacts))

    def _hook_ids(self) -> dict[str, Any]:
        return {
            "run_name": self._spec.name,
            "job_id": self._job.job_id if self._job else None,
            "workflow_id": workflow.info().workflow_id,
        }

    def _outcome(self, outcome: StreamOutcome) -> tuple[RunStatus, str]:
        """The run's status and reason from how the job's stream ended."""
        terminal = self._progress.terminal_event
        if terminal is not None and terminal.type == EventType.COMPLETED:
            return RunStatus.COMPLETED, "training completed"
        if terminal is not None:
            return RunStatus.FAILED, terminal.error or "training failed"
        if outcome.final_status == "completed":
            return RunStatus.COMPLETED, "job completed (confirmed by the job's status)"
        if outcome.final_status == "cancelled":
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
        await self._drain_work()
        hook = await self._run_hook(self._end_hook_args(job, status, reason))
        if hook is not None and not hook.ok and hook.critical and status is not RunStatus.FAILED:
            status, reason = RunStatus.FAILED, f"critical hook failed: {hook.error}"
            self._failure_type = CRITICAL_HOOK_FAILED
        await self._notify(NotifyEvent(status.value), job, status, reason)
        return self._conclude(job, status, reason)

    async def _drain_work(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                lambda: not self._work,
                timeout=WORK_IN_FLIGHT_GRACE,
                timeout_summary="evaluations and hooks in flight",
            )
        for task in list(self._work):
            task.cancel()  # past the grace: recorded as unfinished by their absence

    # -- evaluations, hooks, notifications ---------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _evaluate(self, job: JobRef, step: int) -> None:
        suite = self._spec.evals
        assert suite is not None
        request = EvalInput(job_id=job.job_id, step=step, suite=suite, base_model=self._spec.model)
        async with self._eval_slots:
            try:
                evaluation = await workflow.execute_activity_method(
                    EvalActivities.evaluate_checkpoint,
                    request,
                    start_to_close_timeout=timedelta(seconds=suite.timeout_seconds),
                    heartbeat_timeout=timedelta(seconds=min(60.0, suite.timeout_seconds)),
                    retry_policy=EVAL_RETRY,
                    summary=f"evaluate checkpoint {step} ({len(suite.cases)} cases)",
                )
            except ActivityError as exc:
                evaluation = CheckpointEval.errored(request, _why(exc))
        self._record_evaluation(evaluation, job)

    def _record_evaluation(self, evaluation: CheckpointEval, job: JobRef) -> None:
        evals = self._progress.evals
        before = best_checkpoint(evals)
        evals.append(evaluation)
        evals.sort(key=lambda e: e.step)
        regression = _regression(before, evaluation)
        if regression is not None:
            self._spawn(self._notify(NotifyEvent.EVAL_REGRESSION, job, None, regression))
        rules = self._spec.stop_rules
        if rules is not None:
            scores = [(e.step, e.score) for e in evals if e.error is None and e.score is not None]
            verdict = observe_evals(rules, scores)
            if verdict is not None:
                self._request_stop(verdict)
        self._publish()

    def _hook_later(self, args: HookArgs) -> None:
        if self._spec.hooks is not None and self._spec.hooks.call_for(args) is not None:
            self._spawn(self._run_hook(args))

    async def _run_hook(self, args: HookArgs | None) -> HookOutcome | None:
        """Run the spec's hook for this event, if any; record a failure; a critical one stops."""
        call = self._spec.hooks.call_for(args) if self._spec.hooks and args else None
        if call is None:
            return None
        try:
            outcome = await workflow.execute_activity_method(
                HookActivities.run_hook,
                call,
                start_to_close_timeout=call.start_to_close_timeout,
                retry_policy=call.retry_policy,
                summary=call.summary[:200],
            )
        except ActivityError as exc:
            outcome = HookOutcome.failure(call, exc)
            self._progress.hook_failures.append(outcome)
            if outcome.critical and self._request_stop(
                StopDecision(
                    kind=StopKind.CRITICAL_HOOK,
                    reason=f"critical hook failed: {outcome.error}",
                    requested_by="hooks",
                    rule=call.event.spec_key,
                )
            ):
                self._failure_type = CRITICAL_HOOK_FAILED
        return outcome

    def _end_hook_args(self, job: JobRef | None, status: RunStatus, reason: str) -> HookArgs:
        common = self._hook_ids()
        if status is RunStatus.COMPLETED:
            best = best_checkpoint(self._progress.evals)
            terminal = self._progress.terminal_event
            return CompletedArgs(
                **common,
                artifacts=(terminal.artifacts or []) if terminal else [],
                metrics=self._progress.summary.model_dump(),
                best_checkpoint=best.model_dump(mode="json") if best else None,
            )
        if status is RunStatus.FAILED:
            return FailedArgs(**common, error=reason)
        return CancelledArgs(**common, status=status.value, reason=reason)  # type: ignore[arg-type]

    async def _notify(
        self, event: NotifyEvent, job: JobRef | None, status: RunStatus | None, reason: str
    ) -> None:
        """Send the spec's notifications for ``event``: decided once per run and event."""
        if event.value in self._progress.notified or not self._spec.notifications:
            return
        self._progress.notified.append(event.value)
        best = best_checkpoint(self._progress.evals)
        context = NotificationContext(
            workflow_id=workflow.info().workflow_id,
            run_name=self._spec.name,
            event=event,
            status=status.value if status else self._progress.phase.value,
            reason=reason,
            job_id=job.job_id if job else None,
            steps=self._progress.summary.steps,
            max_steps=self._spec.max_steps,
            last_loss=self._progress.summary.last_loss,
            best_eval_score=best.score if best else None,
            best_eval_step=best.step if best else None,
        )
        deliveries = await asyncio.gather(
            *(self._deliver(n) for n in plan_notifications(self._spec.notifications, context))
        )
        self._progress.deliveries.extend(deliveries)

    async def _deliver(self, notification: NotificationInput) -> DeliveryRecord:
        try:
            return await workflow.execute_activity_method(
                NotifyActivities.send_notification,
                notification,
                # The POST itself times out after 10 s; this bounds a lost worker.
                start_to_close_timeout=timedelta(seconds=15),
                retry_policy=NOTIFY_RETRY,
                summary=notification.summary[:200],
            )
        except ActivityError as exc:
            return DeliveryRecord.failure(notification, exc, NOTIFY_ATTEMPTS)

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
            evals=self._progress.evals,
            best_checkpoint=best_checkpoint(self._progress.evals),
            hook_failures=self._progress.hook_failures,
            notifications=self._progress.deliveries,
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
        best = best_checkpoint(progress.evals)
        if best is not None and best.score != self._shown_best:
            self._shown_best = best.score
            updates.append(sa.BEST_EVAL.value_set(best.score or 0.0))
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
        if progress.evals:
            lines += ["", "**evaluations**", "", eval_table_markdown(progress.evals)]
        return "\n".join(lines)


def _regression(best: CheckpointEval | None, latest: CheckpointEval) -> str | None:
    """Why ``latest`` is a regression from the best earlier checkpoint, if it is one."""
    if best is None or best.score is None or latest.score is None or latest.step < best.step:
        return None
    if latest.score >= best.score:
        return None
    return (
        f"checkpoint {latest.step} scored {latest.score:.3f}, below the best "
        f"{best.score:.3f} (checkpoint {best.step})"
    )


def _log_entry(log: RunEvent) -> LogEntry:
    return LogEntry(
        step=log.step or 0,
        loss=log.loss,
        eval_loss=log.eval_loss,
        learning_rate=log.learning_rate,
        epoch=log.epoch,
        samples_per_second=log.samples_per_second,
    )


def _why(error: ActivityError) -> str:
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
