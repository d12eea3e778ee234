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
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    Interceptor,
)

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.core.models import RunStatus
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.worker import build_worker
from tests.conftest import worker_process
from tests.helpers import jobs_with_marker, make_spec, slow_spec, wait_for_step
from tests.workflow.replay import assert_replays
from tests.workflow.test_training_run import assert_exactly_once, running_worker, start


def faulty(faults: dict[str, Any], **spec: Any) -> Any:
    return make_spec(backend={"emulator": {"faults": faults}}, **spec)


def stream_opens(inspect: httpx.Client, job_id: str) -> int:
    jobs = inspect.get("/_emulator/jobs").json()["jobs"]
    return int(next(job["streamOpens"] for job in jobs if job["id"] == job_id))


async def test_dropped_connections_resume_without_gap_or_duplicate(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = faulty({"dropAfterFrames": 7}, name="drops", maxSteps=100)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert_exactly_once(result, inspect, handle)
    assert result.job_id is not None and stream_opens(inspect, result.job_id) > 3


async def test_server_error_storm_is_ridden_out(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = faulty({"serverErrorRate": 0.4, "serverErrorBurst": 5}, name="storm", maxSteps=80)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert_exactly_once(result, inspect, handle)


async def test_lost_create_response_still_makes_exactly_one_job(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = faulty({"loseCreateResponse": 1}, name="lost-create", maxSteps=40)
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    marker = f"{handle.id}/{handle.first_execution_run_id}"
    attempts = [
        a
        for a in inspect.get("/_emulator/create-attempts").json()["attempts"]
        if a.get("marker") == marker
    ]
    assert len(attempts) >= 1
    assert len(jobs_with_marker(inspect, marker)) == 1
    assert_exactly_once(result, inspect, handle)
    await assert_replays(handle)


async def test_continue_as_new_across_links_loses_and_repeats_nothing(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="links",
        maxSteps=400,
        loggingSteps=2,
        saveSteps=50,
        orchestration={"metricsFlushSeconds": 0.05, "continueAsNewAfterEvents": 40},
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert result.continued_as_new >= 3
    assert [c.step for c in result.checkpoints] == [50, 100, 150, 200, 250, 300, 350, 400]
    assert_exactly_once(result, inspect, handle)
    await assert_replays(handle)


async def test_worker_sigkill_mid_stream_then_another_worker_finishes(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    inspect: httpx.Client,
    emulator_server: EmulatorServer,
) -> None:
    spec = slow_spec("sigkill", heartbeat_timeout=2)
    with worker_process(emulator_server, temporal_client, task_queue) as victim:
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 60)
        os.kill(victim.pid, signal.SIGKILL)
    async with running_worker(temporal_client, cloud_context, task_queue):
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert result.job_id is not None and stream_opens(inspect, result.job_id) >= 2
    assert_exactly_once(result, inspect, handle)
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
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="zombie",
        maxSteps=900,
        orchestration={"metricsFlushSeconds": 0.1, "heartbeatTimeoutSeconds": 1},
    )
    worker = build_worker(
        temporal_client,
        cloud_context,
        task_queue=task_queue,
        interceptors=[_SilenceFirstStreamAttempt()],
    )
    async with worker:
        handle = await start(temporal_client, spec, task_queue)
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert result.ledger.duplicates_dropped > 0, "the zombie and its retry overlapped"
    assert_exactly_once(result, inspect, handle)
