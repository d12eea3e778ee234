"""The worker process: graceful hand-over on SIGTERM, Prometheus metrics, clear start-up errors."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.core.models import RunStatus
from arkor_temporal.emulator import EmulatorServer
from tests.conftest import ROOT, worker_env, worker_process
from tests.helpers import make_spec, slow_spec, wait_for_step
from tests.workflow.test_training_run import assert_exactly_once, running_worker, start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_sigterm_hands_the_stream_to_another_worker_at_once(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    inspect: httpx.Client,
    emulator_server: EmulatorServer,
) -> None:
    # A heartbeat timeout far longer than the test: only the shutdown hand-over can be quick.
    spec = slow_spec("sigterm", heartbeat_timeout=300)
    with worker_process(emulator_server, temporal_client, task_queue) as first:
        handle = await start(temporal_client, spec, task_queue)
        await wait_for_step(temporal_client, handle.id, 30)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 30) == 0, "the worker exits cleanly"
    async with running_worker(temporal_client, cloud_context, task_queue):
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert_exactly_once(result, inspect, handle)
    started = [
        e.activity_task_started_event_attributes
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.attempt > 1
    ]
    # The retried stream attempt followed a WorkerShutdown failure, not a heartbeat timeout.
    assert [s.last_failure.application_failure_info.type for s in started] == ["WorkerShutdown"]


async def test_worker_serves_prometheus_metrics(
    temporal_client: Client, task_queue: str, emulator_server: EmulatorServer
) -> None:
    address = f"127.0.0.1:{free_port()}"
    extra = {"ARKOR_TEMPORAL_METRICS_ADDRESS": address}
    with worker_process(emulator_server, temporal_client, task_queue, extra):
        handle = await start(temporal_client, make_spec(name="metrics", maxSteps=20), task_queue)
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
    done = subprocess.run(
        [sys.executable, "-m", "arkor_temporal.worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "did not answer" in done.stderr and "arkor-temporal dev up" in done.stderr
    assert "emu-token" not in done.stderr
