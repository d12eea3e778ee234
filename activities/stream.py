"""Following one job's event stream for the workflow.

One long-running activity per stream (docs/temporal.md §2): it resumes from the
cursor of the last batch the workflow acknowledged, reconnects per the protocol
(the client's :class:`~arkor_cloud.EventFollower`), heartbeats from a
background task, relays decisions-worthy events in batches (``EventRelay``) and
returns the tail of the stream with the job's final status.

The heartbeat details (:class:`StreamCursor`) carry the live step, loss and rate
between relayed batches, at no history cost. Retries: the workflow's policy is
flat, so a worker lost mid-stream costs the same every time; for failures of its
own the activity asks for a growing delay (``next_retry_delay``), counted in the
details and reset once a batch gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from arkor_cloud import (
    CheckpointSaved,
    EventFollower,
    JobLostError,
    PermanentApiError,
    StreamEvent,
    TrainingCompleted,
    TrainingFailed,
    TrainingLog,
    TrainingStarted,
)
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.heartbeat import Heartbeater, heartbeat_interval, restore_details
from arkor_temporal.activities.relay import EventRelay
from arkor_temporal.core.models import (
    TERMINAL_EVENT_TYPES,
    EventBatch,
    EventType,
    FollowInput,
    JobState,
    LiveProgress,
    RuleState,
    RunEvent,
    StreamCursor,
    StreamOrigin,
    StreamOutcome,
)
from arkor_temporal.core.names import ActivityName, FailureType, TrainingRunMessage
from arkor_temporal.core.stop_rules import observe
from arkor_temporal.telemetry.metrics import (
    EVENTS_RELAYED,
    RELAY_BATCHES,
    RELAY_LAG,
    STREAM_HANDOVERS,
    STREAMS_ACTIVE,
)

# A graceful hand-over retries at once; the workflow's flat policy covers a lost worker.
HAND_OVER_DELAY = timedelta(milliseconds=100)
OWN_FAILURE_MAX_DELAY = timedelta(seconds=30)
# The live progress is recorded this often; the SDK sends the newest at its own throttle
# interval (the worker's LIVE_VIEW_INTERVAL), so the live view is at most about both old.
LIVE_REFRESH_SECONDS = 2.0


def own_failure_delay(failures: int) -> timedelta:
    """1, 2, 4 ... 30 s after the 1st, 2nd, 3rd ... failure in a row."""
    return min(timedelta(seconds=2 ** max(failures - 1, 0)), OWN_FAILURE_MAX_DELAY)


class WorkflowRunClosedError(Exception):
    """The workflow run this activity relays to has closed."""


def to_run_event(event: StreamEvent) -> RunEvent | None:
    """Reduce a wire event to what the workflow uses; None for types it ignores."""
    base: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type,
        "timestamp": event.timestamp,
    }
    if isinstance(event, TrainingLog):
        loss = event.loss
        extra = event.model_extra or {}
        non_finite = bool(extra.get("nonFinite")) or (loss is not None and not math.isfinite(loss))
        return RunEvent(
            **base,
            step=event.step,
            loss=None if non_finite else loss,
            eval_loss=_finite(event.eval_loss),
            learning_rate=_finite(event.learning_rate),
            epoch=_finite(event.epoch),
            samples_per_second=_finite(event.samples_per_second),
            non_finite_loss=non_finite,
        )
    if isinstance(event, CheckpointSaved):
        return RunEvent(**base, step=event.step, artifacts=list(event.artifacts))
    if isinstance(event, TrainingCompleted):
        return RunEvent(**base, artifacts=list(event.artifacts))
    if isinstance(event, TrainingFailed):
        return RunEvent(**base, step=event.step, error=event.error)
    if isinstance(event, TrainingStarted):
        return RunEvent(**base)
    return None


def _seconds_since(timestamp: str | None, now: datetime) -> float | None:
    """Seconds from an event's backend timestamp (ISO 8601) to ``now``; None if unreadable."""
    if not timestamp:
        return None
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((now - when).total_seconds(), 0.0)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class StreamActivities:
    def __init__(self, context: CloudContext) -> None:
        self._context = context

    @activity.defn(name=ActivityName.FOLLOW_JOB_EVENTS)
    async def follow_job_events(self, follow: FollowInput) -> StreamOutcome:
        with STREAMS_ACTIVE.track_inprogress():
            return await self._follow_until_shutdown(follow)

    async def _follow_until_shutdown(self, follow: FollowInput) -> StreamOutcome:
        cursor = restore_details(StreamCursor) or StreamCursor(last_event_id=follow.resume_after)
        attempt = activity.info().attempt
        if attempt > 1:
            STREAM_HANDOVERS.labels(reason="resumed").inc()
        where = f"after event {cursor.last_event_id}" if cursor.last_event_id else "the start"
        activity.logger.info("following job %s from %s (attempt %d)", follow.job_id, where, attempt)
        follow_task = asyncio.create_task(self._follow(follow, cursor))
        shutdown = asyncio.create_task(activity.wait_for_worker_shutdown())
        try:
            await asyncio.wait({follow_task, shutdown}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            shutdown.cancel()
            if not follow_task.done():
                follow_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follow_task
        if not follow_task.cancelled() and follow_task.done():
            try:
                return follow_task.result()
            except WorkflowRunClosedError:
                # The run ended (or continued as new) while we streamed: nobody awaits us.
                activity.logger.info("workflow run %s closed; stream stopped", follow.run_id)
                return StreamOutcome(tail=[])
        # Hand the stream to another worker now rather than at the heartbeat timeout.
        STREAM_HANDOVERS.labels(reason="worker_shutdown").inc()
        activity.logger.info("worker shutting down: handing job %s over", follow.job_id)
        raise ApplicationError(
            "worker shutting down; the stream resumes elsewhere",
            type=FailureType.WORKER_SHUTDOWN,
            next_retry_delay=HAND_OVER_DELAY,
        )

    async def _follow(self, follow: FollowInput, cursor: StreamCursor) -> StreamOutcome:
        info = activity.info()
        handle = activity.client().get_workflow_handle(follow.workflow_id, run_id=follow.run_id)
        sender = f"{info.activity_id}#{info.attempt}"

        async def send(events: list[RunEvent], origin: StreamOrigin) -> None:
            try:
                await handle.signal(
                    TrainingRunMessage.RELAY_EVENTS,
                    EventBatch(events=events, sender=sender, origin=origin),
                )
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise WorkflowRunClosedError from exc
                raise
            accepted = datetime.now(UTC)
            RELAY_BATCHES.inc()
            EVENTS_RELAYED.inc(len(events))
            for event in events:
                lag = _seconds_since(event.timestamp, accepted)
                if lag is not None:
                    RELAY_LAG.observe(lag)

        def delivered(after: str | None) -> None:
            cursor.last_event_id = after
            cursor.relayed_batches += 1
            cursor.failures = 0

        rules, rule_state = follow.stop_rules, RuleState()
        urgent_types = {EventType.STARTED.value}
        if follow.urgent_checkpoints:
            urgent_types.add(EventType.CHECKPOINT.value)

        def observe_event(event: RunEvent) -> bool:
            """Show ``event`` in the live view; whether the workflow needs it at once.

            At once: what the workflow acts on, including a log that stops the run.
            """
            if event.type == EventType.LOG and event.step is not None:
                previous = cursor.progress
                cursor.progress = (
                    previous.after(event, follow.max_steps)
                    if previous is not None
                    else LiveProgress.first(event, follow.max_steps)
                )
            stops = rules is not None and observe(rules, rule_state, event) is not None
            return stops or event.type in urgent_types

        relay = EventRelay(
            send,
            resume_after=cursor.last_event_id,
            flush_seconds=follow.flush_seconds,
            on_delivered=delivered,
        )
        policy = self._context.reconnect
        if follow.job_lost_after_seconds is not None:
            policy = policy.model_copy(update={"lost_after": follow.job_lost_after_seconds})
        async with self._context.client() as client:
            follower = EventFollower(
                client, follow.job_id, policy=policy, last_event_id=cursor.last_event_id
            )

            def details() -> StreamCursor:
                # The readable line is derived here, once per beat, not once per event.
                live = cursor.progress.line() if cursor.progress else None
                return cursor.model_copy(update={"trouble": follower.trouble, "live": live})

            beat_every = min(heartbeat_interval(info.heartbeat_timeout), LIVE_REFRESH_SECONDS)
            async with Heartbeater(details, beat_every), relay:
                try:
                    return await self._relay(follower, relay, observe_event)
                except (WorkflowRunClosedError, ApplicationError):
                    raise
                except Exception as exc:
                    # Counted before the Heartbeater's last beat carries it to the retry.
                    cursor.failures += 1
                    raise ApplicationError(
                        f"{type(exc).__name__}: {exc}",
                        type=type(exc).__name__,
                        next_retry_delay=own_failure_delay(cursor.failures),
                    ) from exc

    async def _relay(
        self,
        follower: EventFollower,
        relay: EventRelay,
        observe_event: Callable[[RunEvent], bool],
    ) -> StreamOutcome:
        """Relay the follower's events until the stream is over; return its tail."""
        async with contextlib.aclosing(follower):
            try:
                async for wire_event in follower:
                    event = to_run_event(wire_event)
                    if event is None:
                        activity.logger.info("skipping event type %s", wire_event.type)
                        continue
                    if event.type in TERMINAL_EVENT_TYPES:
                        pending, origin = await relay.take_pending()
                        return StreamOutcome(tail=[*pending, event], tail_origin=origin)
                    await relay.add(event, urgent=observe_event(event))
            except PermanentApiError as exc:
                raise ApplicationError(
                    f"the backend refused the event stream: {exc}",
                    type=FailureType.STREAM_REFUSED,
                    non_retryable=True,
                ) from exc
            except JobLostError as exc:
                raise ApplicationError(
                    str(exc), type=FailureType.JOB_LOST, non_retryable=True
                ) from exc
        job = follower.final_job
        pending, origin = await relay.take_pending()
        return StreamOutcome(
            tail=pending,
            tail_origin=origin,
            final_status=JobState(job.status.value) if job is not None else None,
            final_error=job.error if job is not None else None,
        )
