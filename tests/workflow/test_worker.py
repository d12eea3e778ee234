"""The worker process: graceful hand-over on SIGTERM, Prometheus metrics, clear start-up errors."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.core.models import RunStatus
from arkor_temporal.dev.local import EMULATOR_IDENTITY, free_port
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.startup import (
    EXIT_CREDENTIALS_REFUSED,
    EXIT_MISCONFIGURED,
    EXIT_UNREACHABLE,
)
from tests.support.backend import assert_completed_exactly_once
from tests.support.emulator import fast_config
from tests.support.runs import Runs, make_spec, slow_spec
from tests.support.secrets import assert_no_secret
from tests.support.settings import emulator_settings
from tests.support.temporal import start_dev_server
from tests.support.waiting import eventually
from tests.support.workers import run_worker, worker_env, worker_logs


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
    env.update(ARKOR_TEMPORAL_API_URL="http://127.0.0.1:1", ARKOR_TEMPORAL_STARTUP_WAIT="1.5")
    code, output = run_worker(env, timeout=60)
    assert code == EXIT_UNREACHABLE, output
    assert "could not be reached for 1.5 s" in output and "arkor-temporal dev up" in output
    assert "retrying in" in output, "it retried before giving up"
    assert_no_secret((EMULATOR_IDENTITY.token,), {"worker output": output})


def test_worker_with_refused_credentials_exits_at_once_with_the_fix(
    temporal_client: Client, emulator_server: EmulatorServer, task_queue: str
) -> None:
    env = worker_env(emulator_server, temporal_client, task_queue)
    env["ARKOR_TEMPORAL_TOKEN"] = "not-the-emulator-token"
    code, output = run_worker(env, timeout=60)
    assert code == EXIT_CREDENTIALS_REFUSED, output
    assert "refused this worker's credentials (401" in output and "ARKOR_TEMPORAL_TOKEN" in output
    assert "retrying" not in output, "a refused credential is not waited out"
    assert_no_secret(("not-the-emulator-token",), {"worker output": output})


def test_worker_with_a_bad_slot_count_names_the_variable(
    temporal_client: Client, emulator_server: EmulatorServer, task_queue: str
) -> None:
    env = worker_env(emulator_server, temporal_client, task_queue)
    env["ARKOR_TEMPORAL_STREAM_SLOTS"] = "many"
    code, output = run_worker(env, timeout=60)
    assert code == EXIT_MISCONFIGURED, output
    assert "ARKOR_TEMPORAL_STREAM_SLOTS='many' is not a slot count" in output


async def test_worker_that_sees_503_at_start_up_keeps_retrying_then_serves(
    temporal_client: Client, task_queue: str
) -> None:
    with (
        EmulatorServer(fast_config()) as emulator,
        httpx.Client(base_url=emulator.base_url) as inspect,
    ):
        # The worker's start-up check is the first call: it sees three 503s in a row.
        faults = {"serverErrorBurst": 3}
        assert inspect.post("/_emulator/faults", json=faults).status_code == 200
        settings = emulator_settings(emulator.base_url)
        runs = Runs(temporal_client, CloudContext(settings), task_queue, emulator)
        with runs.worker_process() as process:
            handle = await runs.start(make_spec(name="blip", maxSteps=20))
            result = await handle.result()
            assert process.poll() is None, "the worker is still serving"
        assert result.status is RunStatus.COMPLETED
        log = worker_logs.paths[-1].read_text()
        assert log.count("retrying in") == 3 and "503" in log


async def test_health_endpoints_answer_ready_only_while_temporal_and_the_api_answer(
    task_queue: str,
) -> None:
    # A Temporal server and an emulator of this test's own, so that both can be stopped.
    temporal = await start_dev_server()
    emulator = EmulatorServer(fast_config())
    emulator.start()
    address = f"127.0.0.1:{free_port()}"
    runs = Runs(
        temporal.client, CloudContext(emulator_settings(emulator.base_url)), task_queue, emulator
    )
    try:
        with runs.worker_process({"ARKOR_TEMPORAL_HEALTH_ADDRESS": address}):
            async with httpx.AsyncClient(base_url=f"http://{address}") as probe:

                async def readiness() -> tuple[int, dict[str, Any]]:
                    answer = await probe.get("/readyz")
                    return answer.status_code, answer.json()

                ready = await eventually(
                    readiness,
                    lambda a: a[0] == 200,
                    within=30,
                    what="ready",
                    retrying=(httpx.TransportError,),
                )
                assert ready[1]["checks"] == {"temporal": "ok", "pollers": "ok", "arkorApi": "ok"}

                emulator.stop()
                status, body = await eventually(
                    readiness, lambda a: a[0] == 503, within=30, what="not ready"
                )
                assert body["checks"]["arkorApi"] != "ok" and body["checks"]["temporal"] == "ok"
                assert (await probe.get("/healthz")).status_code == 200, "alive all the same"

                await temporal.shutdown()
                status, body = await eventually(
                    readiness,
                    lambda a: a[1]["checks"]["temporal"] != "ok",
                    within=30,
                    what="no Temporal",
                )
                assert status == 503
                assert (await probe.get("/healthz")).status_code == 200
    finally:
        emulator.stop()
        with contextlib.suppress(Exception):  # stopped already when the test got that far
            await temporal.shutdown()
