"""Rolling out stream-position dedupe: runs started before it finish correctly after it.

Before the change, the stream activity relayed batches that said nothing of where
they start, and the workflow judged them by step. The workflow keeps that rule
for such batches, and switches to stream position at a patch marker when the
first batch with an origin arrives. A run that began under the old sender (here
the old activity, registered under its real name on a worker that then goes
away) is finished by today's worker with every emitted event applied once, and
its mixed history replays.
"""

from __future__ import annotations

import contextlib

import httpx
from temporalio import activity
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.worker import Worker

from arkor_cloud import EventFollower
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.heartbeat import Heartbeater, restore_details
from arkor_temporal.activities.stream import to_run_event
from arkor_temporal.core.models import (
    TERMINAL_EVENT_TYPES,
    EventBatch,
    FollowInput,
    StreamCursor,
    StreamOutcome,
)
from arkor_temporal.core.names import ActivityName, TaskQueues, TrainingRunMessage
from arkor_temporal.worker import WORKFLOWS, WorkerGroup, queue_activities
from arkor_temporal.workflows.training_run import STREAM_POSITION_PATCH
from tests.support.backend import assert_completed_exactly_once
from tests.support.replay import assert_replays
from tests.support.runs import Runs, make_spec


class LegacyStream:
    """The stream activity as it was: one relayed batch per event, with no origin."""

    def __init__(self, context: CloudContext) -> None:
        self._context = context

    @activity.defn(name=ActivityName.FOLLOW_JOB_EVENTS)
    async def follow_job_events(self, follow: FollowInput) -> StreamOutcome:
        cursor = restore_details(StreamCursor) or StreamCursor(last_event_id=follow.resume_after)
        handle = activity.client().get_workflow_handle(follow.workflow_id, run_id=follow.run_id)
        async with self._context.client() as client, Heartbeater(lambda: cursor):
            follower = EventFollower(
                client,
                follow.job_id,
                policy=self._context.reconnect,
                last_event_id=cursor.last_event_id,
            )
            async with contextlib.aclosing(follower):
                async for wire_event in follower:
                    event = to_run_event(wire_event)
                    if event is None:
                        continue
                    if event.type in TERMINAL_EVENT_TYPES:
                        return StreamOutcome(tail=[event])
                    batch = EventBatch(events=[event], sender="legacy")
                    await handle.signal(TrainingRunMessage.RELAY_EVENTS, batch)
                    cursor.last_event_id = event.event_id
        return StreamOutcome(tail=[])


def legacy_worker(runs: Runs) -> WorkerGroup:
    """Today's workers on every queue, with the old stream activity in place of the new."""
    legacy = LegacyStream(runs.context).follow_job_events
    queues = TaskQueues.of(runs.task_queue)
    workers = {
        role: Worker(
            runs.client,
            task_queue=getattr(queues, role),
            workflows=list(WORKFLOWS) if role == "control" else [],
            activities=[
                legacy if getattr(fn, "__name__", "") == "follow_job_events" else fn
                for fn in activities
            ],
            max_cached_workflows=0,
        )
        for role, activities in queue_activities(runs.context).items()
    }
    return WorkerGroup(workers)


async def test_a_run_started_under_the_old_sender_finishes_exactly_once(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="upgraded",
        maxSteps=300,
        # One log per step as before the change, so the old phase is correct too.
        backend={
            "emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 3, "logging": "combined"}
        },
    )
    async with legacy_worker(runs):
        handle = await runs.start(spec)
        await runs.wait_for_step(handle, 40)
    result = await runs.finish(handle)
    assert_completed_exactly_once(result, inspect, handle)

    history = await handle.fetch_history()
    signals = [
        e
        for e in history.events
        if e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    markers = [
        e for e in history.events if e.event_type == HistoryEventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert len(markers) == 1, "one patch marker: the switch to stream positions"
    assert STREAM_POSITION_PATCH.encode() in markers[0].SerializeToString()
    before = [s for s in signals if s.event_id < markers[0].event_id]
    # One signal per event: the logs of steps 5, 10, ..., 40 at least.
    assert len(before) >= 40 // 5, "the old sender relayed the first part of the run"
    await assert_replays(handle)
