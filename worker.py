"""The arkor-temporal worker: ``python worker.py``.

Connects to Temporal (see :mod:`arkor_temporal.connection` for the settings),
resolves the Arkor credentials on this machine (never sent through Temporal),
registers the workflows and activities, and shuts down gracefully on SIGTERM or
SIGINT: a running stream activity hands its job to another worker at once
instead of waiting out its heartbeat timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from arkor_cloud import ArkorClient, ArkorError, ClientSettings, ConfigurationError
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.evaluation import EvalActivities
from arkor_temporal.activities.hooks import HookActivities
from arkor_temporal.activities.jobs import JobActivities
from arkor_temporal.activities.notify import NotifyActivities
from arkor_temporal.activities.reaper import ReaperActivities
from arkor_temporal.activities.stream import StreamActivities
from arkor_temporal.client.connection import TemporalSettings, TemporalUnavailableError
from arkor_temporal.logs import configure_logging
from arkor_temporal.process import hard_exit
from arkor_temporal.workflows.reaper import OrphanReaper
from arkor_temporal.workflows.training_run import TrainingRun

log = logging.getLogger("arkor_temporal.worker")

WORKFLOWS: Sequence[type] = (TrainingRun, OrphanReaper)


def activities_for(context: CloudContext) -> list[Any]:
    jobs, stream = JobActivities(context), StreamActivities(context)
    return [
        jobs.create_or_adopt_job,
        jobs.read_job_status,
        jobs.cancel_job,
        stream.follow_job_events,
        EvalActivities(context).evaluate_checkpoint,
        HookActivities(context).run_hook,
        NotifyActivities().send_notification,
        ReaperActivities(context).find_orphans,
    ]


def build_worker(
    client: Client, context: CloudContext, *, task_queue: str, **options: Any
) -> Worker:
    """The worker with everything registered; ``options`` go to :class:`Worker` (tests use them)."""
    options.setdefault("graceful_shutdown_timeout", timedelta(seconds=10))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(context),
        **options,
    )


async def check_cloud(settings: ClientSettings) -> None:
    """Fail at start-up, with a clear message, when the Arkor API cannot be reached."""
    async with ArkorClient(settings) as cloud:
        try:
            await cloud.list_jobs()
        except ArkorError as exc:
            raise SystemExit(
                f"arkor-temporal worker: the Arkor API at {settings.base_url} did not answer "
                f"({exc}). Start the emulator (`arkor-temporal emulator` or "
                "`arkor-temporal dev up`) or set ARKOR_TEMPORAL_API_URL and credentials."
            ) from None


def metrics_runtime(bind_address: str | None) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics on ``bind_address`` (host:port)."""
    if not bind_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=bind_address, durations_as_seconds=True),
            global_tags={"service": "arkor-temporal-worker"},
        )
    )


async def run_worker(
    temporal: TemporalSettings,
    *,
    sticky_timeout: float | None = None,
    metrics_address: str | None = None,
) -> None:
    try:
        cloud_settings = ClientSettings.resolve()
        context = CloudContext(cloud_settings)
    except ConfigurationError as exc:
        raise SystemExit(f"arkor-temporal worker: {exc}") from None
    await check_cloud(cloud_settings)
    try:
        client = await temporal.connect(metrics_runtime(metrics_address))
    except TemporalUnavailableError as exc:
        raise SystemExit(f"arkor-temporal worker: {exc}") from None
    options: dict[str, Any] = {}
    if sticky_timeout is not None:
        options["sticky_queue_schedule_to_start_timeout"] = timedelta(seconds=sticky_timeout)
    worker = build_worker(client, context, task_queue=temporal.task_queue, **options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(worker.shutdown()))
    log.info(
        "worker polling task queue %s on %s (%s); Arkor API %s",
        temporal.task_queue,
        temporal.address,
        temporal.namespace,
        cloud_settings.base_url,
    )
    await worker.run()
    log.info("worker stopped")


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
        help="serve Prometheus metrics (Temporal's worker and activity metrics) here "
        "[env ARKOR_TEMPORAL_METRICS_ADDRESS]",
    )
    parser.add_argument(
        "--sticky-timeout",
        type=float,
        help="seconds before a dead worker's cached workflows move on (Temporal default 10)",
    )
    args = parser.parse_args(argv)
    configure_logging()
    temporal = TemporalSettings.resolve(
        address=args.address, namespace=args.namespace, task_queue=args.task_queue
    )
    try:
        asyncio.run(
            run_worker(temporal, sticky_timeout=args.sticky_timeout, metrics_address=args.metrics)
        )
    except SystemExit as exc:
        hard_exit(exc.code)
    hard_exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
