"""Capacity: more runs than stream slots, and a fleet of workers losing one.

Stopping a GPU and evaluating a checkpoint never wait behind streams.
Streams, job calls and slow work have task queues and slots of their own
(:class:`~arkor_temporal.core.names.TaskQueues`). With every stream slot held,
a run still gets its job, a cancel still reaches the backend, and a saved
checkpoint is still evaluated. On one queue with the same slots, the job call
and the evaluation would wait behind the streams until a job ended.

Several workers on the same queues share the runs; the runs of one that dies go
on, exactly once, on the others.
"""

from __future__ import annotations

import signal

import httpx
from temporalio import workflow
from temporalio.api.enums.v1 import EventType

from arkor_temporal.client.runs import RunHandle, cancel_run
from arkor_temporal.core.models import Phase, RunStatus
from arkor_temporal.core.names import ActivityName
from arkor_temporal.core.spec import RunSpec
from arkor_temporal.worker import Capacity, build_worker
from tests.support.backend import (
    assert_backend_cancelled,
    assert_completed_exactly_once,
    backend_job,
)
from tests.support.evals import triage_cases
from tests.support.runs import Runs, make_spec, slow_spec

STREAM_SLOTS = 2
# More runs waiting than all the worker's slots together: were every activity on one
# queue, their streams would take every slot and nothing below could run.
WAITING = 4


def long_evaluated_spec(name: str) -> RunSpec:
    return make_spec(
        name=name,
        maxSteps=3000,
        saveSteps=10,
        evals={"cases": triage_cases()[:2]},
        backend={"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 20}},
    )


async def test_cancel_and_evaluation_complete_with_every_stream_slot_busy(
    runs: Runs, inspect: httpx.Client
) -> None:
    worker = build_worker(
        runs.client,
        runs.context,
        task_queue=runs.task_queue,
        capacity=Capacity(streams=STREAM_SLOTS, control=2, work=2),
        workflow_failure_exception_types=[workflow.NondeterminismError],
    )
    async with worker:
        streaming = [await runs.start(long_evaluated_spec(f"busy-{i}")) for i in range(2)]
        for handle in streaming:
            await runs.wait_for_step(handle, 5)
        # Every stream slot is held: these runs get their jobs but cannot follow them.
        waiting = [await runs.start(long_evaluated_spec(f"waiting-{i}")) for i in range(WAITING)]
        for handle in waiting:
            queued = await runs.wait_for_status(
                handle, lambda s: s.job_id is not None, what="its job created"
            )
            assert queued.phase is Phase.QUEUED and queued.step == 0
            assert backend_job(inspect, queued.job_id or "")["streamOpens"] == 0, "no slot"

        # A checkpoint of a streaming run is evaluated while both slots stay held.
        evaluated = await runs.wait_for_status(
            streaming[0], lambda s: any(e.score is not None for e in s.evals), what="an eval"
        )
        assert evaluated.evals[0].error is None

        # Cancels reach the backend: runs without a stream, then one holding a slot.
        for handle in [*waiting, streaming[0]]:
            ack = await cancel_run(handle, "capacity test", "pytest")
            assert ack is not None and ack.run_status == RunStatus.CANCELLED.value
            assert_backend_cancelled(inspect, ack.job_id)
        # The other stream went on throughout.
        still = await runs.wait_for_step(streaming[1], 6)
        assert still.phase is Phase.RUNNING
        await cancel_run(streaming[1], "capacity test done", "pytest")


async def test_runs_of_a_dead_worker_continue_on_the_others(
    runs: Runs, inspect: httpx.Client
) -> None:
    with runs.worker_process() as first, runs.worker_process() as second:
        workers = {first.pid: first, second.pid: second}
        handles = [await runs.start(slow_spec(f"fleet-{i}", heartbeat_timeout=2)) for i in range(6)]
        for handle in handles:
            await runs.wait_for_step(handle, 30)
        holders = {handle.id: await stream_holder(handle) for handle in handles}
        # Kill whichever worker follows the first run's job, with every stream running.
        victim_pid = holders[handles[0].id]
        workers[victim_pid].send_signal(signal.SIGKILL)
        workers[victim_pid].wait()
        orphaned = [h for h in handles if holders[h.id] == victim_pid]
        results = [await handle.result() for handle in handles]
        survivor = next(pid for pid in workers if pid != victim_pid)
        for handle in orphaned:
            assert await stream_holder(handle, closed=True) == survivor
    for handle, result in zip(handles, results, strict=True):
        assert_completed_exactly_once(result, inspect, handle)


async def stream_holder(handle: RunHandle, *, closed: bool = False) -> int:
    """The pid of the worker that runs the stream (or, once closed, ran its last attempt)."""
    if closed:
        started = [
            e.activity_task_started_event_attributes.identity
            for e in (await handle.fetch_history()).events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and e.activity_task_started_event_attributes.attempt > 1
        ]
        identity = started[-1]
    else:
        description = await handle.describe()
        [stream] = [
            p
            for p in description.raw_description.pending_activities
            if p.activity_type.name == ActivityName.FOLLOW_JOB_EVENTS
        ]
        identity = stream.last_worker_identity
    return int(identity.split("@", 1)[0])
