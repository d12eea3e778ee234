"""The worker's own Prometheus metrics, served beside the Temporal SDK's (README, "The worker").

Every metric is defined here once, in a registry of our own (:data:`REGISTRY`), and
incremented where its event happens:

* ``arkor_events_relayed_total``, ``arkor_relay_batches_total``,
  ``arkor_relay_lag_seconds``: the stream activity, once a ``relay_events`` signal
  was accepted (:mod:`arkor_temporal.activities.stream`);
* ``arkor_backend_errors_total{status}``: every answer of the Arkor API with a 4xx or
  5xx status, and every request that got no answer (``status="network"``), seen by
  the transport of the activities' shared client (:mod:`arkor_temporal.activities.context`);
* ``arkor_job_cancels_total{outcome}``, ``arkor_job_cancel_seconds``: ``cancel_job``;
* ``arkor_evaluations_total{outcome}``: ``evaluate_checkpoint``;
* ``arkor_notifications_total{outcome}``: ``send_notification``;
* ``arkor_stream_handovers_total{reason}``, ``arkor_streams_active``: ``follow_job_events``;
* ``arkor_runs{phase}``: :class:`RunsByPhase`, counted by Temporal's visibility store.

Events *applied* (and repeats dropped) are known only to the workflow, which is
deterministic code: it counts them with the SDK's replay-safe meter
(``workflow.metric_meter()``), so they come out of the SDK's exporter as
``arkor_events_applied_total`` and ``arkor_events_duplicate_total`` (names in
:class:`arkor_temporal.core.names.WorkflowMetric`).

The worker answers one scrape with both (:class:`Exposition`): this registry, then
the text of the SDK's own exporter, which listens on a loopback port only the
worker knows. So an operator scrapes one endpoint, ``--metrics HOST:PORT``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpx
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("arkor_temporal.worker")

# ``*_created`` series double every counter for no use on a dashboard.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Version 0.0.4 of the text format: what the SDK's exporter speaks, and every Prometheus.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, process_cpu_seconds_total

# Label values known in advance: each series exists (at 0) from the first scrape on,
# so ``rate()`` and ``increase()`` see the first event too.
CANCEL_OUTCOMES = ("cancelled", "already_ended", "missing", "pending", "error")
EVALUATION_OUTCOMES = ("passed", "failed", "errored", "retrying")
NOTIFICATION_OUTCOMES = ("delivered", "undelivered", "retrying")
HANDOVER_REASONS = ("worker_shutdown", "resumed")

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# A log waits up to ``metricsFlushSeconds`` (600 s by default) before it is relayed.
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0)

EVENTS_RELAYED = Counter(
    "arkor_events_relayed",
    "Backend events the stream activity relayed to their workflow (the signal was accepted).",
    registry=REGISTRY,
)
RELAY_BATCHES = Counter(
    "arkor_relay_batches",
    "relay_events signals the workflows accepted.",
    registry=REGISTRY,
)
RELAY_LAG = Histogram(
    "arkor_relay_lag_seconds",
    "From a relayed event's backend timestamp to its workflow accepting the signal.",
    buckets=_LAG_BUCKETS,
    registry=REGISTRY,
)
BACKEND_ERRORS = Counter(
    "arkor_backend_errors",
    "Arkor API answers with a 4xx or 5xx status; status=network: no answer at all.",
    ["status"],
    registry=REGISTRY,
)
JOB_CANCELS = Counter(
    "arkor_job_cancels",
    "cancel_job attempts by outcome: cancelled, already_ended, missing (the backend no "
    "longer knows the job), pending (still running: retried), error (retried).",
    ["outcome"],
    registry=REGISTRY,
)
JOB_CANCEL_SECONDS = Histogram(
    "arkor_job_cancel_seconds",
    "From the cancel_job activity's scheduling to the backend showing the job terminal "
    "(retries included).",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
EVALUATIONS = Counter(
    "arkor_evaluations",
    "evaluate_checkpoint attempts by outcome: passed, failed, errored (an evaluation "
    "that could not be scored), retrying (inference kept failing: Temporal retries).",
    ["outcome"],
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "arkor_notifications",
    "send_notification attempts by outcome: delivered, undelivered (for good), "
    "retrying (the receiver is down or busy: Temporal retries).",
    ["outcome"],
    registry=REGISTRY,
)
STREAM_HANDOVERS = Counter(
    "arkor_stream_handovers",
    "Streams handed over: worker_shutdown (this worker gave one up on SIGTERM), resumed "
    "(this worker took one over: a stream attempt after the first).",
    ["reason"],
    registry=REGISTRY,
)
STREAMS_ACTIVE = Gauge(
    "arkor_streams_active",
    "Job event streams this worker follows now.",
    registry=REGISTRY,
)

for _counter, _values, _label in (
    (JOB_CANCELS, CANCEL_OUTCOMES, "outcome"),
    (EVALUATIONS, EVALUATION_OUTCOMES, "outcome"),
    (NOTIFICATIONS, NOTIFICATION_OUTCOMES, "outcome"),
    (STREAM_HANDOVERS, HANDOVER_REASONS, "reason"),
):
    for _value in _values:
        _counter.labels(**{_label: _value})

RUNS_METRIC = "arkor_runs"
RUNS_TTL_SECONDS = 15.0

# The Temporal SDK's metrics the dashboard (deploy/grafana) and the scaling examples
# (deploy/kubernetes/scaling) rely on; tests/workflow/test_observability.py finds each
# one in a worker's scrape.
SDK_METRICS = (
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_worker_task_slots_available",
    "temporal_worker_task_slots_used",
    "temporal_workflow_task_schedule_to_start_latency",
)

CountQuery = Callable[[str], Awaitable[int]]


class RunsByPhase(Collector):
    """``arkor_runs{phase}``: the deployment's running ``TrainingRun`` workflows by ``ArkorPhase``.

    Fleet-wide state, so it is counted where the truth is, Temporal's visibility store,
    and every worker reports the same numbers (aggregate with ``max``, not ``sum``). One
    count per phase (the dev server refuses ``GROUP BY`` on a custom search attribute),
    refreshed at most every ``ttl`` seconds and only when scraped. The store lags the
    runs by about a second (more on Elasticsearch). A failed refresh keeps the last
    numbers and is logged; until one succeeds the metric is absent.
    """

    def __init__(
        self,
        count: CountQuery,
        *,
        workflow_type: str,
        task_queue: str,
        phases: Sequence[str],
        ttl: float = RUNS_TTL_SECONDS,
    ) -> None:
        self._count = count
        base = (
            f'WorkflowType = "{workflow_type}" AND ExecutionStatus = "Running" '
            f'AND TaskQueue = "{task_queue}"'
        )
        self._queries = {phase: f'{base} AND ArkorPhase = "{phase}"' for phase in phases}
        self._ttl = ttl
        self._counts: dict[str, int] | None = None
        self._refreshed_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._refreshed_at is not None and now - self._refreshed_at < self._ttl:
                return
            self._refreshed_at = now
            try:
                counts = await asyncio.gather(*(self._count(q) for q in self._queries.values()))
            except Exception as exc:
                log.warning(
                    "counting runs by phase failed (%s); %s stays as it was", exc, RUNS_METRIC
                )
                return
            self._counts = dict(zip(self._queries, counts, strict=True))

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for phase, count in (self._counts or {}).items():
            family.add_metric([phase], count)
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            RUNS_METRIC,
            "Running TrainingRun workflows of this task queue by phase, from Temporal's "
            "visibility (the same on every worker: aggregate with max).",
            labels=["phase"],
        )


class Exposition:
    """One scrape's answer: our registry, then the SDK's exporter's text (at ``sdk_url``)."""

    def __init__(
        self,
        sdk_url: str | None,
        runs: RunsByPhase | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._sdk_url = sdk_url
        self._runs = runs
        self._registry = registry

    async def render(self) -> bytes:
        if self._runs is not None:
            await self._runs.refresh()
        ours = generate_latest(self._registry)
        return ours + await self._sdk_text()

    async def _sdk_text(self) -> bytes:
        if self._sdk_url is None:
            return b""
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                answer = await http.get(self._sdk_url)
                answer.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("the Temporal SDK's metrics could not be read (%s)", exc)
            return b"# the Temporal SDK's metrics could not be read this time\n"
        text = answer.content
        return text if text.endswith(b"\n") or not text else text + b"\n"
