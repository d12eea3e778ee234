"""Faults injected into real runs: nothing lost, nothing applied twice, one job per run.

Each test asserts the same end state: the run completed, and the workflow's
event ledger (count + hash chain of event ids) equals what the emulator emitted.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    Interceptor,
)

from arkor_temporal.worker import build_worker
from tests.support.backend import (
    assert_completed_exactly_once,
    backend_job,
    create_attempts,
    jobs_with_marker,
    run_marker,
)
from tests.support.replay import assert_replays
from tests.support.runs import Runs, emulator_faults, make_spec, slow_spec


def stream_opens(inspect: httpx.Client, job_id: str | None) -> int:
    assert job_id is not None
    return int(backend_job(inspect, job_id)["streamOpens"])


async def test_dropped_connections_resume_without_gap_or_duplicate(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(name="drops", maxSteps=100, backend=emulator_faults(dropAfterFrames=7))
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    assert stream_opens(inspect, result.job_id) > 3


async def test_server_error_storm_is_ridden_out(runs: Runs, inspect: httpx.Client) -> None:
    storm = emulator_faults(serverErrorRate=0.4, serverErrorBurst=5)
    handle, result = await runs.run_to_end(make_spec(name="storm", maxSteps=80, backend=storm))
    assert_completed_exactly_once(result, inspect, handle)


async def test_lost_create_response_still_makes_exactly_one_job(
    runs: Runs, inspect: httpx.Client
) -> None:
    """The emulator ignores Idempotency-Key, as the real cloud does: only adoption saves us."""
    spec = make_spec(name="lost-create", maxSteps=40, backend=emulator_faults(loseCreateResponse=1))
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    marker = run_marker(handle)
    # One POST, whose answer was lost; the retry listed the jobs and adopted it.
    assert len([a for a in create_attempts(inspect) if a.get("marker") == marker]) == 1
    assert len(jobs_with_marker(inspect, marker)) == 1
    history = await handle.fetch_history()
    results = [
        e.activity_task_completed_event_attributes.result.SerializeToString()
        for e in history.events
        if e.HasField("activity_task_completed_event_attributes")
    ]
    assert sum(b'"adopted":true' in r for r in results) == 1, "the job was adopted"
    await assert_replays(handle)


async def test_continue_as_new_across_links_loses_and_repeats_nothing(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="links",
        maxSteps=400,
        loggingSteps=2,
        saveSteps=50,
        orchestration={"metricsFlushSeconds": 0.05, "continueAsNewAfterEvents": 40},
    )
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    assert result.continued_as_new >= 3
    assert [c.step for c in result.checkpoints] == [50, 100, 150, 200, 250, 300, 350, 400]
    await assert_replays(handle)


async def test_worker_sigkill_mid_stream_then_another_worker_finishes(
    runs: Runs, inspect: httpx.Client
) -> None:
    with runs.worker_process() as victim:
        handle = await runs.start(slow_spec("sigkill", heartbeat_timeout=2))
        await runs.wait_for_step(handle, 60)
        os.kill(victim.pid, signal.SIGKILL)
    result = await runs.finish(handle)
    assert_completed_exactly_once(result, inspect, handle)
    assert stream_opens(inspect, result.job_id) >= 2
    await assert_replays(handle)


class _SilenceFirstStreamAttempt(Interceptor):
    """Drops the first stream attempt's heartbeats after a few beats, so the server
    times it out while it keeps running: a real zombie beside its retry."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _SilencingInbound(next)


class _SilencingInbound(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        super().init(_SilencingOutbound(outbound))


class _SilencingOutbound(ActivityOutboundInterceptor):
    beats = 0

    def heartbeat(self, *details: Any) -> None:
        info = activity.info()
        if info.activity_type == "follow_job_events" and info.attempt == 1:
            self.beats += 1
            if self.beats > 3:
                return
        super().heartbeat(*details)


async def test_heartbeat_timeout_zombie_relays_duplicates_that_are_dropped(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="zombie",
        maxSteps=900,
        orchestration={"metricsFlushSeconds": 0.1, "heartbeatTimeoutSeconds": 1},
    )
    worker = build_worker(
        runs.client,
        runs.context,
        task_queue=runs.task_queue,
        interceptors=[_SilenceFirstStreamAttempt()],
    )
    async with worker:
        handle = await runs.start(spec)
        result = await handle.result()
    assert_completed_exactly_once(result, inspect, handle)
    assert result.ledger.duplicates_dropped > 0, "the zombie and its retry overlapped"
