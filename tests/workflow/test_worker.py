"""The worker process: graceful hand-over on SIGTERM, Prometheus metrics, clear start-up errors."""

from __future__ import annotations

import asyncio
import signal

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from arkor_temporal.core.models import RunStatus
from arkor_temporal.dev.local import EMULATOR_IDENTITY, free_port
from arkor_temporal.emulator import EmulatorServer
from tests.support.backend import assert_completed_exactly_once
from tests.support.runs import Runs, make_spec, slow_spec
from tests.support.workers import run_worker, worker_env


async def test_sigterm_hands_the_stream_to_another_worker_at_once(
    runs: Runs, inspect: httpx.Client
) -> None:
    # A heartbeat timeout far longer than the test: only the shutdown hand-over can be quick.
    spec = slow_spec("sigterm", heartbeat_timeout=300)
    with runs.worker_process() as first:
        handle = await runs.start(spec)
        await runs.wait_for_step(handle, 30)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 30) == 0, "the worker exits cleanly"
    result = await runs.finish(handle)
    assert_completed_exactly_once(result, inspect, handle)
    started = [
        e.activity_task_started_event_attributes
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.attempt > 1
    ]
    # The retried stream attempt followed a WorkerShutdown failure, not a heartbeat timeout.
    assert [s.last_failure.application_failure_info.type for s in started] == ["WorkerShutdown"]


async def test_worker_serves_prometheus_metrics(runs: Runs) -> None:
    address = f"127.0.0.1:{free_port()}"
    with runs.worker_process({"ARKOR_TEMPORAL_METRICS_ADDRESS": address}):
        handle = await runs.start(make_spec(name="metrics", maxSteps=20))
        assert (await handle.result()).status is RunStatus.COMPLETED
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://{address}/metrics")).text
    assert "temporal_activity_execution_latency" in metrics or "temporal_request" in metrics
    assert 'service="arkor-temporal-worker"' in metrics


def test_worker_without_the_arkor_api_says_what_to_start(
    temporal_client: Client, emulator_server: EmulatorServer, task_queue: str
) -> None:
    env = worker_env(emulator_server, temporal_client, task_queue)
    env["ARKOR_TEMPORAL_API_URL"] = "http://127.0.0.1:1"
    code, output = run_worker(env, timeout=60)
    assert code != 0
    assert "did not answer" in output and "arkor-temporal dev up" in output
    assert EMULATOR_IDENTITY.token not in output
