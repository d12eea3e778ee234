"""Python API for training runs: start one, wait for it, read its status.

Usable from a web handler, a cron job or CI without the CLI::

    client = await TemporalSettings.resolve().connect()
    handle = await start_run(client, load_spec(Path("run.yaml")), task_queue="arkor-training")
    result = await wait_for_result(handle)
    sys.exit(exit_code(result))
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.spec import RunSpec
from workflows import search_attributes as sa
from workflows.models import (
    EventLedger,
    MetricsSummary,
    Phase,
    RunInput,
    RunResult,
    RunStatus,
    StatusView,
)
from workflows.training_run import TrainingRun

RunHandle = WorkflowHandle[TrainingRun, RunResult]


def default_workflow_id(spec: RunSpec, now: datetime | None = None) -> str:
    """Readable and unique enough: ``train-<run name>-<UTC timestamp>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")[:60] or "run"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"train-{slug}-{stamp}"


def run_summary(spec: RunSpec) -> str:
    """One line for the Web UI's list view (at most 200 bytes)."""
    steps = f", {spec.max_steps} steps" if spec.max_steps else ""
    return f"Fine-tune {spec.name} on {spec.model}{steps}"[:200]


def run_details(spec: RunSpec) -> str:
    """Markdown for the Web UI's detail page: the spec without anything secret."""
    rows = [f"| {key} | `{value}` |" for key, value in spec.job_config().items()]
    return "\n".join(["### Run spec", "", "| field | value |", "|---|---|", *rows])


async def start_run(
    client: Client, spec: RunSpec, *, task_queue: str, workflow_id: str | None = None
) -> RunHandle:
    return await client.start_workflow(
        TrainingRun.run,
        RunInput(spec=spec),
        id=workflow_id or default_workflow_id(spec),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.RUN_NAME, spec.name),
                SearchAttributePair(sa.MODEL, spec.model),
                SearchAttributePair(sa.PHASE, Phase.SUBMITTING.value),
            ]
        ),
        static_summary=run_summary(spec),
        static_details=run_details(spec),
    )


async def wait_for_result(handle: WorkflowHandle[TrainingRun, RunResult]) -> RunResult:
    """The run's result, also for runs that failed (read from the failure's details)."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.details:
            return RunResult.model_validate(cause.details[0])
        if isinstance(cause, CancelledError):
            return RunResult(
                status=RunStatus.CANCELLED,
                reason=str(cause),
                run_name="",
                job_id=None,
                metrics=MetricsSummary(),
                series=[],
                checkpoints=[],
                ledger=EventLedger(),
            )
        raise


async def query_status(handle: WorkflowHandle[TrainingRun, RunResult]) -> StatusView | None:
    """Live status, or None when no worker can answer (e.g. the run is closed)."""
    try:
        return await handle.query(TrainingRun.status)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return None
        raise


def exit_code(result: RunResult) -> int:
    """For CI: 0 only for a completed run; 1 failed; 3 cancelled or stopped."""
    return {RunStatus.COMPLETED: 0, RunStatus.FAILED: 1}.get(result.status, 3)
