"""The arkor-temporal worker: ``python worker.py``.

Connects to Temporal (see :mod:`arkor_temporal.connection` for the settings),
resolves the Arkor credentials on this machine (never sent through Temporal),
registers the workflows and activities, and shuts down gracefully on SIGTERM or
SIGINT: a running stream activity hands its job to another worker at once
instead of waiting out its heartbeat timeout. With ``--metrics`` it serves one
Prometheus endpoint: the worker's own metrics (:mod:`arkor_temporal.telemetry.metrics`)
and the Temporal SDK's, whose exporter listens on a loopback port of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from arkor_cloud import ClientSettings, ConfigurationError
from arkor_temporal.activities.closing import close_as_canceled
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.evaluation import EvalActivities
from arkor_temporal.activities.hooks import HookActivities
from arkor_temporal.activities.jobs import JobActivities
from arkor_temporal.activities.notify import NotifyActivities
from arkor_temporal.activities.observability import ActivityLogContext
from arkor_temporal.activities.reaper import ReaperActivities
from arkor_temporal.activities.stream import StreamActivities
from arkor_temporal.client.connection import (
    ConnectionSettingsError,
    TemporalSettings,
    TemporalUnavailableError,
)
from arkor_temporal.core.models import Phase
from arkor_temporal.core.names import TaskQueues, WorkflowName
from arkor_temporal.health import HealthServer, MetricsServer
from arkor_temporal.logs import LoggingConfigError, configure_logging
from arkor_temporal.process import hard_exit
from arkor_temporal.startup import (
    EXIT_MISCONFIGURED,
    EXIT_UNREACHABLE,
    StartupError,
    check_cloud,
    retry_transient,
    startup_wait,
)
from arkor_temporal.telemetry.metrics import CONTENT_TYPE, REGISTRY, Exposition, RunsByPhase
from arkor_temporal.telemetry.tracing import shutdown_tracing
from arkor_temporal.workflows.reaper import OrphanReaper
from arkor_temporal.workflows.training_run import TrainingRun

log = logging.getLogger("arkor_temporal.worker")

WORKFLOWS: Sequence[type] = (TrainingRun, OrphanReaper)
ENV_STREAM_SLOTS = "ARKOR_TEMPORAL_STREAM_SLOTS"
ENV_CONTROL_SLOTS = "ARKOR_TEMPORAL_CONTROL_SLOTS"
ENV_WORK_SLOTS = "ARKOR_TEMPORAL_WORK_SLOTS"
# The SDK sends a stream's heartbeat details at most this often (docs/temporal.md §3):
# they carry the live step and loss that ``run watch`` and the Web UI show.
LIVE_VIEW_INTERVAL = timedelta(seconds=10)
# After a worker dies, a run's next task (a cancel, a relayed checkpoint) waits this long
# for it before any worker takes it; the cost of a short wait is a replay of the run's
# history when a live but busy worker misses it (README, "Sizing a fleet").
DEFAULT_STICKY_TIMEOUT = 3.0
# The name of this process in traces and in the SDK's metrics.
SERVICE = "arkor-temporal-worker"


@dataclass(frozen=True)
class Capacity:
    """Activity slots per task queue (README, "Sizing a fleet").

    A stream is an idle async task most of the time, so a worker follows many; control
    and work slots are few and never taken by streams.
    """

    streams: int = 1000
    control: int = 50
    work: int = 50

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **given: int | None) -> Capacity:
        """Flags first, then ``ARKOR_TEMPORAL_*_SLOTS``, then the defaults; each at least 1."""
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for kind, variable in (
            ("streams", ENV_STREAM_SLOTS),
            ("control", ENV_CONTROL_SLOTS),
            ("work", ENV_WORK_SLOTS),
        ):
            value: int | str | None = given.get(kind)
            if value is None:
                value = env.get(variable) or None
            if value is None:
                continue
            try:
                values[kind] = int(value)
            except ValueError:
                values[kind] = 0
            if values[kind] < 1:
                raise ConfigurationError(
                    f"{variable}={value!r} is not a slot count: give a whole number of at "
                    f"least 1 (or leave it unset for {getattr(cls(), kind)})."
                )
        return cls(**values)


def queue_activities(context: CloudContext) -> dict[str, list[Any]]:
    """The activities each queue serves, by role (see :class:`TaskQueues`)."""
    jobs, stream = JobActivities(context), StreamActivities(context)
    follow = [stream.follow_job_events]
    work = [
        EvalActivities(context).evaluate_checkpoint,
        HookActivities(context).run_hook,
        NotifyActivities().send_notification,
    ]
    return {
        # Streams and work stay here too for activities scheduled before they had queues
        # of their own: a retry keeps its first attempt's queue, so a run started by an
        # older worker goes on asking for them on this one.
        "control": [
            jobs.create_or_adopt_job,
            jobs.read_job_status,
            jobs.cancel_job,
            ReaperActivities(context).find_orphans,
            close_as_canceled,
            *follow,
            *work,
        ],
        "streams": follow,
        "work": work,
    }


class WorkerGroup:
    """One Temporal worker per task queue, run, entered and shut down together."""

    def __init__(self, workers: Mapping[str, Worker]) -> None:
        self.workers = dict(workers)

    async def run(self) -> None:
        runs = [asyncio.ensure_future(worker.run()) for worker in self.workers.values()]
        try:
            # One worker failing (a fatal poll error) stops the others: no half a worker.
            done, _ = await asyncio.wait(runs, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            await self.shutdown()
            await asyncio.gather(*runs, return_exceptions=True)

    @property
    def polling(self) -> bool:
        """Whether every queue's worker is still running its pollers."""
        return all(worker.is_running for worker in self.workers.values())

    async def shutdown(self) -> None:
        await asyncio.gather(
            *(worker.shutdown() for worker in self.workers.values() if worker.is_running)
        )

    async def __aenter__(self) -> WorkerGroup:
        self._stack = contextlib.AsyncExitStack()
        for worker in self.workers.values():
            await self._stack.enter_async_context(worker)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Concurrently, so every stream hands over at once rather than queue by queue.
        await self.shutdown()
        await self._stack.aclose()


def build_worker(
    client: Client,
    context: CloudContext,
    *,
    task_queue: str,
    capacity: Capacity | None = None,
    **options: Any,
) -> WorkerGroup:
    """The workers of all three queues named after ``task_queue``.

    ``options`` go to every :class:`Worker` (tests use them). Every activity logs with
    its run's ids bound (:class:`ActivityLogContext`); the client's interceptors (tracing)
    apply to the workers too.
    """
    capacity = capacity or Capacity()
    queues = TaskQueues.of(task_queue)
    options.setdefault("graceful_shutdown_timeout", timedelta(seconds=10))
    options.setdefault("max_heartbeat_throttle_interval", LIVE_VIEW_INTERVAL)
    options["interceptors"] = [ActivityLogContext(), *options.get("interceptors", ())]
    activities = queue_activities(context)
    slots = {"control": capacity.control, "streams": capacity.streams, "work": capacity.work}
    workers = {}
    for role, queue in (
        ("control", queues.control),
        ("streams", queues.streams),
        ("work", queues.work),
    ):
        role_options = dict(options)
        if role == "control":
            role_options["workflows"] = list(WORKFLOWS)
            # Every running run's workflow stays cached: a relayed batch never replays.
            role_options.setdefault("max_cached_workflows", capacity.streams + capacity.control)
        workers[role] = Worker(
            client,
            task_queue=queue,
            activities=activities[role],
            max_concurrent_activities=slots[role],
            **role_options,
        )
    return WorkerGroup(workers)


def metrics_runtime(bind_address: str | None) -> Runtime | None:
    """A Temporal runtime whose SDK exporter serves Prometheus text on ``bind_address``.

    The worker gives it a loopback port of its own and serves that text, with its own
    metrics, on ``--metrics`` (:class:`Exposition`).
    """
    if not bind_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=bind_address, durations_as_seconds=True),
            global_tags={"service": SERVICE},
        )
    )


def loopback_address() -> str:
    """``127.0.0.1:PORT`` with a port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def runs_by_phase(client: Client, task_queue: str) -> RunsByPhase:
    """``arkor_runs{phase}`` for the runs of ``task_queue``, counted by Temporal's visibility."""

    async def count(query: str) -> int:
        return (await client.count_workflows(query)).count

    return RunsByPhase(
        count,
        workflow_type=WorkflowName.TRAINING_RUN,
        task_queue=task_queue,
        phases=[phase.value for phase in Phase],
    )


async def run_worker(
    temporal: TemporalSettings,
    *,
    capacity: Capacity,
    sticky_timeout: float = DEFAULT_STICKY_TIMEOUT,
    metrics_address: str | None = None,
    health_address: str | None = None,
) -> None:
    try:
        cloud_settings = ClientSettings.resolve()
        context = CloudContext(cloud_settings)
    except ConfigurationError as exc:
        raise StartupError(EXIT_MISCONFIGURED, str(exc)) from None
    wait = startup_wait()
    await check_cloud(cloud_settings, wait=wait)
    sdk_metrics = loopback_address() if metrics_address else None
    runtime = metrics_runtime(sdk_metrics)  # once: its exporter holds the port
    try:
        client = await retry_transient(
            f"Temporal at {temporal.address}",
            lambda: temporal.connect(runtime, service=SERVICE),
            transient=lambda exc: isinstance(exc, TemporalUnavailableError),
            wait=wait,
        )
    except TemporalUnavailableError as exc:
        raise StartupError(EXIT_UNREACHABLE, str(exc)) from None
    worker = build_worker(
        client,
        context,
        task_queue=temporal.task_queue,
        capacity=capacity,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_timeout),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(worker.shutdown()))
    queues = TaskQueues.of(temporal.task_queue)
    log.info(
        "worker polling %s (%d control slots), %s (%d streams), %s (%d work slots) "
        "on %s (%s); Arkor API %s",
        queues.control,
        capacity.control,
        queues.streams,
        capacity.streams,
        queues.work,
        capacity.work,
        temporal.address,
        temporal.namespace,
        cloud_settings.base_url,
    )
    async with contextlib.AsyncExitStack() as stack:
        if metrics_address:
            runs = runs_by_phase(client, temporal.task_queue)
            REGISTRY.register(runs)
            stack.callback(REGISTRY.unregister, runs)
            exposition = Exposition(f"http://{sdk_metrics}/metrics", runs)
            await _serve(stack, MetricsServer(metrics_address, exposition.render, CONTENT_TYPE))
        if health_address:
            checks = readiness_checks(client, context, worker)
            await _serve(stack, HealthServer(health_address, checks))
        await worker.run()
    log.info("worker stopped")


async def _serve(stack: contextlib.AsyncExitStack, server: HealthServer | MetricsServer) -> None:
    try:
        await stack.enter_async_context(server)
    except OSError as exc:  # the address is taken, or not this machine's
        raise StartupError(
            EXIT_MISCONFIGURED, f"cannot listen on {server.address} ({exc.strerror or exc})"
        ) from None


def readiness_checks(
    client: Client, context: CloudContext, worker: WorkerGroup
) -> dict[str, Callable[[], Awaitable[None]]]:
    """What ``/readyz`` asks: Temporal answers, the pollers run, the Arkor API answers."""

    async def temporal() -> None:
        await client.workflow_service.get_system_info(GetSystemInfoRequest())

    async def pollers() -> None:
        if not worker.polling:
            raise RuntimeError("a queue's worker has stopped polling")

    async def arkor_api() -> None:
        async with context.client() as cloud:
            await cloud.list_jobs()

    return {"temporal": temporal, "pollers": pollers, "arkorApi": arkor_api}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run an arkor-temporal worker.")
    parser.add_argument(
        "--address", help="Temporal address (default: TEMPORAL_ADDRESS or localhost:7233)"
    )
    parser.add_argument(
        "--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE or default)"
    )
    parser.add_argument(
        "--task-queue", help="task queue (default: ARKOR_TEMPORAL_TASK_QUEUE or arkor-training)"
    )
    parser.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        default=os.environ.get("ARKOR_TEMPORAL_METRICS_ADDRESS"),
        help="serve Prometheus metrics here: the worker's own (arkor_*) and the Temporal "
        "SDK's (temporal_*), at /metrics [env ARKOR_TEMPORAL_METRICS_ADDRESS]",
    )
    parser.add_argument(
        "--health",
        metavar="HOST:PORT",
        default=os.environ.get("ARKOR_TEMPORAL_HEALTH_ADDRESS"),
        help="serve /healthz (liveness) and /readyz (readiness) here "
        "[env ARKOR_TEMPORAL_HEALTH_ADDRESS]",
    )
    parser.add_argument(
        "--sticky-timeout",
        type=float,
        default=DEFAULT_STICKY_TIMEOUT,
        help="seconds a run's next task waits for the worker that has it cached before any "
        f"worker takes it (default {DEFAULT_STICKY_TIMEOUT:g}; Temporal's own is 10)",
    )
    slots = parser.add_argument_group('capacity (README, "Sizing a fleet")')
    for flag, variable, default, what in (
        ("--stream-slots", ENV_STREAM_SLOTS, Capacity.streams, "jobs followed at once"),
        ("--control-slots", ENV_CONTROL_SLOTS, Capacity.control, "job creations and cancels"),
        ("--work-slots", ENV_WORK_SLOTS, Capacity.work, "evaluations, hooks, notifications"),
    ):
        parser_help = f"{what} at once [env {variable}, default {default}]"
        slots.add_argument(flag, type=int, metavar="N", help=parser_help)
    args = parser.parse_args(argv)
    try:
        configure_logging()
        temporal = TemporalSettings.resolve(
            address=args.address, namespace=args.namespace, task_queue=args.task_queue
        )
        capacity = Capacity.resolve(
            streams=args.stream_slots, control=args.control_slots, work=args.work_slots
        )
        asyncio.run(
            run_worker(
                temporal,
                capacity=capacity,
                sticky_timeout=args.sticky_timeout,
                metrics_address=args.metrics,
                health_address=args.health,
            )
        )
    except (ConfigurationError, ConnectionSettingsError, LoggingConfigError) as exc:
        hard_exit(f"arkor-temporal worker: {exc}", EXIT_MISCONFIGURED)
    except StartupError as exc:
        shutdown_tracing()
        hard_exit(exc.code, exc.exit_code)
    except SystemExit as exc:
        shutdown_tracing()
        hard_exit(exc.code)
    shutdown_tracing()  # the spans still buffered: hard_exit skips interpreter teardown
    hard_exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
