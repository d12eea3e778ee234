"""The live view travels in the stream's heartbeat details, and the history keeps decisions.

At the default flush window (600 s) a run's logs reach the workflow only at a
flush, a decision or the end, yet ``describe_run`` (``run status``, ``run
watch``) and the Web UI's pending activity show the latest step, loss and rate.
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from temporalio import workflow
from temporalio.api.enums.v1 import EventType

from arkor_temporal.client.runs import RunInfo, cancel_run, describe_run, wait_for_result
from arkor_temporal.core.names import ActivityName
from arkor_temporal.worker import build_worker
from tests.support.backend import assert_backend_cancelled, expected_ledger
from tests.support.runs import Runs, make_spec
from tests.support.waiting import eventually

SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED


async def test_live_progress_is_fresh_while_the_history_holds_no_logs(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="live",
        maxSteps=3000,
        saveSteps=50,  # checkpoints without evaluations or hooks: not urgent
        backend={"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 10}},
        orchestration={"heartbeatTimeoutSeconds": 5},  # the default flush window
    )
    worker = build_worker(
        runs.client,
        runs.context,
        task_queue=runs.task_queue,
        max_heartbeat_throttle_interval=timedelta(seconds=1),  # the live view's refresh
        workflow_failure_exception_types=[workflow.NondeterminismError],
    )
    async with worker:
        handle = await runs.start(spec)

        def live_past_checkpoints(info: RunInfo) -> bool:
            return info.live is not None and info.live.step > 2 * 50

        info = await eventually(
            lambda: describe_run(handle), live_past_checkpoints, within=60, what="live step"
        )
        assert info.live is not None and info.status is not None
        assert info.live.max_steps == 3000 and info.live.loss is not None
        assert info.live.steps_per_second is not None and info.live.steps_per_second > 0
        # The workflow itself has seen the start only: no log, no checkpoint yet.
        assert info.status.step == 0 and info.status.checkpoints == []
        history = (await handle.fetch_history()).events
        assert sum(1 for e in history if e.event_type == SIGNALED) == 1, "only the start"

        # The Web UI shows the raw details: the readable line comes first.
        description = await handle.describe()
        [stream] = [
            p
            for p in description.raw_description.pending_activities
            if p.activity_type.name == ActivityName.FOLLOW_JOB_EVENTS
        ]
        shown = json.loads(stream.heartbeat_details.payloads[0].data)
        assert next(iter(shown)) == "live" and shown["live"].startswith("step ")
        assert "/3000 (" in shown["live"] and " · loss " in shown["live"]

        ack = await cancel_run(handle, "live view seen", "pytest")
        assert ack is not None
        assert_backend_cancelled(inspect, ack.job_id)
        result = await wait_for_result(handle)
    # The logs held back reached the result: the stopped job's stream ended by itself.
    assert result.metrics.steps >= info.live.step and result.series
    assert result.ledger == expected_ledger(inspect, ack.job_id or "")
