"""Observability of real runs: the worker's metrics endpoint, its logs and the traces.

Worker processes against the session's dev server and emulator, scraped and read while
a run goes on; the tracing test runs its worker in this process, with an in-memory
span exporter.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.runs import cancel_run, start_run, wait_for_result
from arkor_temporal.core.models import RunStatus
from arkor_temporal.core.names import WorkflowMetric
from arkor_temporal.dev.local import free_port
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.startup import EXIT_MISCONFIGURED
from arkor_temporal.telemetry.metrics import SDK_METRICS, RunsByPhase
from arkor_temporal.telemetry.tracing import Tracing
from tests.support.evals import triage_cases
from tests.support.metrics import Scrape, scrape
from tests.support.runs import Runs, make_spec
from tests.support.waiting import eventually
from tests.support.workers import ROOT, run_worker, running_worker, worker_env, worker_logs

UNSET_WEBHOOK = "OBSERVED_WEBHOOK_URL"  # never set on the worker: the notification is undelivered


async def scraped(address: str, accept: Any = bool, *, what: str) -> Scrape:
    """The worker's metrics once ``accept`` takes a scrape (retrying until it listens)."""
    return await eventually(
        lambda: scrape(address),
        accept,
        within=60,
        what=what,
        interval=0.2,
        retrying=(httpx.TransportError,),
    )


async def running_count(client: Client, task_queue: str, phase: str) -> int:
    query = (
        f'WorkflowType = "TrainingRun" AND ExecutionStatus = "Running" '
        f'AND TaskQueue = "{task_queue}" AND ArkorPhase = "{phase}"'
    )
    return (await client.count_workflows(query)).count


async def test_a_scrape_during_a_run_finds_the_domain_metrics_moving(runs: Runs) -> None:
    first, second = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    spec = make_spec(
        name="observed",
        maxSteps=900,
        saveSteps=20,
        evals={"cases": triage_cases()[:1]},
        notifications=[{"kind": "slack", "urlEnv": UNSET_WEBHOOK, "on": ["cancelled"]}],
        # About 30 s of training; the job's first request (the stream) is answered 503.
        backend={
            "emulator": {
                "scenario": "slow",
                "atStep": 1,
                "slowFactor": 3,
                "faults": {"serverErrorBurst": 1},
            }
        },
        orchestration={"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": 300},
    )
    with runs.worker_process({"ARKOR_TEMPORAL_METRICS_ADDRESS": first}) as giver:
        # The first scrape counts the runs by phase, which then holds for 15 s: it comes
        # once the run is training.
        handle = await runs.start(spec)
        await runs.wait_for_status(
            handle, lambda s: s.step >= 40 and bool(s.evals), what="step 40 and an evaluation"
        )
        await eventually(
            lambda: running_count(runs.client, runs.task_queue, "running"),
            lambda n: n == 1,
            within=30,
            what="visibility to show the run running",
        )
        during = await scraped(
            first, lambda s: s.value("arkor_events_relayed_total") > 0, what="relayed events"
        )
        assert during.value("arkor_streams_active") == 1
        assert during.value("arkor_job_cancels_total", outcome="cancelled") == 0
        assert during.value("arkor_runs", phase="running") == 1
        assert during.value("arkor_runs", phase="queued") == 0
        assert during.value("arkor_relay_batches_total") > 0
        assert during.value("arkor_relay_lag_seconds_count") >= during.value(
            "arkor_events_relayed_total"
        )
        assert during.value("arkor_backend_errors_total", status="503") >= 1
        evaluated = sum(
            during.value("arkor_evaluations_total", outcome=o) for o in ("passed", "failed")
        )
        assert evaluated >= 1
        assert during.value(WorkflowMetric.EVENTS_APPLIED, task_queue=runs.task_queue) > 0

        with runs.worker_process({"ARKOR_TEMPORAL_METRICS_ADDRESS": second}) as taker:
            other = await scraped(second, what="the second worker's metrics")
            # Fleet-wide state: both workers report what Temporal's visibility says.
            assert other.value("arkor_runs", phase="running") == 1
            assert other.value("arkor_streams_active") == 0

            giver.send_signal(signal.SIGTERM)
            assert giver.wait(30) == 0
            resumed = await scraped(
                second,
                lambda s: (
                    s.value("arkor_stream_handovers_total", reason="resumed") == 1
                    and s.value("arkor_streams_active") == 1
                ),
                what="the second worker to resume the stream",
            )
            relayed = resumed.value("arkor_events_relayed_total")

            ack = await cancel_run(handle, "enough", "observability test")
            assert ack.outcome.value == "cancelled"
            assert (await wait_for_result(handle)).status is RunStatus.CANCELLED
            after = await scraped(
                second,
                lambda s: (
                    s.value("arkor_streams_active") == 0
                    and s.value("arkor_events_relayed_total") > relayed
                ),
                what="the stream to end",
            )
            assert taker.poll() is None

    assert after.value("arkor_job_cancels_total", outcome="cancelled") == 1
    assert after.value("arkor_job_cancel_seconds_count") == 1
    assert 0 < after.value("arkor_job_cancel_seconds_sum") < 30
    assert after.value("arkor_notifications_total", outcome="undelivered") == 1
    assert after.value("arkor_notifications_total", outcome="delivered") == 0
    assert after.value(WorkflowMetric.EVENTS_APPLIED, task_queue=runs.task_queue) > 0
    assert after.has("process_resident_memory_bytes")
    # The SDK's own metrics come from the same endpoint; the dashboard relies on these.
    for name in SDK_METRICS:
        assert after.has(name) or after.has(f"{name}_bucket"), name
    streams = f"{runs.task_queue}-streams"
    assert after.value("temporal_worker_task_slots_available", task_queue=streams) == 1000
    assert 'service="arkor-temporal-worker"' in after.text


async def test_runs_by_phase_is_cached_and_survives_a_failed_count() -> None:
    asked: list[str] = []
    answers: dict[str, int] = {"running": 2, "queued": 1}
    failing = False

    async def count(query: str) -> int:
        if failing:
            raise RuntimeError("visibility is down")
        asked.append(query)
        return answers[query.rpartition('"')[0].rpartition('"')[2]]

    runs = RunsByPhase(
        count, workflow_type="TrainingRun", task_queue="q", phases=["running", "queued"], ttl=60
    )
    assert [m.samples for m in runs.collect()] == [[]], "absent until counted"
    await runs.refresh()
    await runs.refresh()  # cached
    assert len(asked) == 2 and all('TaskQueue = "q"' in q for q in asked)
    [family] = runs.collect()
    assert {s.labels["phase"]: s.value for s in family.samples} == {"running": 2, "queued": 1}

    stale = RunsByPhase(
        count, workflow_type="TrainingRun", task_queue="q", phases=["running"], ttl=0
    )
    await stale.refresh()
    failing = True
    await stale.refresh()  # logged; the last numbers stay
    [family] = stale.collect()
    assert [s.value for s in family.samples] == [2]


def _activity_lines(log: str) -> list[dict[str, Any]]:
    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if "activity" in record:
                lines.append(record)
    return lines


async def test_worker_log_lines_carry_the_run_and_the_job(runs: Runs) -> None:
    with runs.worker_process():
        handle = await runs.start(make_spec(name="logged", maxSteps=20))
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    log = worker_logs.paths[-1].read_text()
    assert "HTTP Request:" not in log, "httpx's request lines are debug, not info"
    stream = [r for r in _activity_lines(log) if r["activity"] == "follow_job_events"]
    assert stream, log[-3000:]
    line = stream[0]
    assert line["workflow_id"] == handle.id and line["job_id"] == result.job_id
    assert line["attempt"] == 1 and line["run_id"] and line["level"] == "info"
    assert line["event"].startswith(f"following job {result.job_id} from the start")


@pytest.mark.parametrize(
    ("variable", "value", "choices"),
    [
        ("ARKOR_TEMPORAL_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("ARKOR_TEMPORAL_LOG_FORMAT", "xml", "json, console"),
        ("OTEL_TRACES_EXPORTER", "jaeger", "none, otlp, console"),
    ],
)
def test_a_bad_logging_or_tracing_setting_is_refused_by_name(
    temporal_client: Client,
    emulator_server: EmulatorServer,
    task_queue: str,
    variable: str,
    value: str,
    choices: str,
) -> None:
    env = worker_env(emulator_server, temporal_client, task_queue)
    env[variable] = value
    code, output = run_worker(env, timeout=60)
    assert code == EXIT_MISCONFIGURED, output
    assert f"{variable}={value!r}" in output and choices in output, output
    assert "Traceback" not in output


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """This process's tracer provider, exporting to memory (a provider is set only once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()  # later tests' requests record nothing here


def _chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """The names from ``span`` up to its trace's root."""
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_one_trace_links_the_start_the_workflow_an_activity_and_its_http_calls(
    runs: Runs, spans: InMemorySpanExporter
) -> None:
    target = runs.client.service_client.config.target_host
    settings = TemporalSettings.resolve(
        address=target, env={"OTEL_TRACES_EXPORTER": "console", "TEMPORAL_NAMESPACE": "default"}
    )
    assert settings.tracing == Tracing("console")
    traced = await settings.connect()
    async with running_worker(traced, runs.context, runs.task_queue):
        handle = await start_run(
            traced, make_spec(name="traced", maxSteps=20), task_queue=runs.task_queue
        )
        assert (await handle.result()).status is RunStatus.COMPLETED
    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    [start] = [s for s in finished if s.name == "StartWorkflow:TrainingRun"]
    trace_id = start.context.trace_id
    http = [s for s in finished if s.name == "POST /v1/jobs" and s.context.trace_id == trace_id]
    assert http, sorted({s.name for s in finished})
    # The SDK's interceptor parents the workflow's spans (all of zero length) on the
    # context the start carried: the workflow and the activities it starts are siblings.
    assert _chain(http[0], by_id) == [
        "POST /v1/jobs",
        "RunActivity:create_or_adopt_job",
        "StartActivity:create_or_adopt_job",
        "StartWorkflow:TrainingRun",
    ]
    [run] = [s for s in finished if s.name == "RunWorkflow:TrainingRun"]
    assert run.context.trace_id == trace_id and _chain(run, by_id)[-1] == start.name
    assert http[0].attributes is not None
    assert http[0].attributes["http.response.status_code"] in (200, 201)
    names = {s.name for s in finished if s.context.trace_id == trace_id}
    assert "GET /v1/jobs/{id}/events/stream" in names, names
    assert "RunActivity:follow_job_events" in names


def test_tracing_off_needs_no_opentelemetry() -> None:
    """Without the [tracing] extra: spans are no-ops, and asking for tracing says what to do."""
    script = textwrap.dedent(
        """
        import sys
        for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.sdk"):
            sys.modules[name] = None  # import fails as if not installed
        import httpx
        from arkor_temporal.activities.context import ObservedTransport
        from arkor_temporal.telemetry.tracing import Tracing, TracingConfigError, http_span
        assert Tracing.from_env({}) is None
        with http_span("GET", "h", "/v1/jobs") as span:
            span.answered(200)
        try:
            Tracing.from_env({"OTEL_TRACES_EXPORTER": "otlp"})
        except TracingConfigError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'arkor-temporal[tracing]'" in done.stdout
