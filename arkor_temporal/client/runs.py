"""Python API for training runs: start, find, inspect, follow, list, cancel, wait.

Usable from a web handler, a cron job or CI without the CLI::

    async def main() -> int:
        settings = TemporalSettings.resolve()
        client = await settings.connect()
        spec = load_spec(Path("run.yaml"))
        handle = await start_run(client, spec, task_queue=settings.task_queue)
        async for snapshot in follow_run(handle):
            print(snapshot.step)
        return exit_code(await wait_for_result(handle))  # a failed or cancelled run fails CI

    run_script(main)  # exits with main's code, cleanly (arkor_temporal.client.script)

Every function takes a connected :class:`temporalio.client.Client` or a
:data:`RunHandle` (from :func:`start_run` or :func:`get_run`); nothing here
prints or exits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, computed_field
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.client.connection import namespace_missing
from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.hooks import HookOutcome
from arkor_temporal.core.models import (
    CancelAck,
    CancelOutcome,
    CancelRequest,
    EventLedger,
    LiveProgress,
    MetricPoint,
    MetricsSummary,
    Phase,
    RunInput,
    RunResult,
    RunStatus,
    StatusView,
    StreamCursor,
)
from arkor_temporal.core.names import RESULT_MEMO, ActivityName, TrainingRunMessage, WorkflowName
from arkor_temporal.core.naming import slug
from arkor_temporal.core.notifications import DeliveryRecord
from arkor_temporal.core.spec import RunSpec

# By name, not by class: clients never import workflow (or activity) code.
RunHandle = WorkflowHandle[Any, RunResult]
# A query needs a live worker; without one the server holds it until this deadline.
QUERY_TIMEOUT = timedelta(seconds=5)


class RunNotFoundError(LookupError):
    """No training run with that workflow id in the namespace."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(
            f"no run with workflow id {workflow_id!r}; `arkor-temporal run list` shows the runs"
        )
        self.workflow_id = workflow_id


class RunAlreadyExistsError(ValueError):
    """A run with that workflow id exists (running or closed): ids are never reused."""

    def __init__(self, workflow_id: str, state: str) -> None:
        super().__init__(
            f"a run with workflow id {workflow_id!r} already exists ({state}); ids are not "
            "reused, so that each run and its result stay findable: give another --id, or "
            f"none for a fresh one (`arkor-temporal run status {workflow_id}` shows that run)"
        )
        self.workflow_id = workflow_id


# -- starting -------------------------------------------------------------------


def default_workflow_id(spec: RunSpec, now: datetime | None = None) -> str:
    """Readable and unique enough: ``train-<run name>-<UTC timestamp>``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"train-{slug(spec.name) or 'run'}-{stamp}"


def run_summary(spec: RunSpec) -> str:
    """One line for the Web UI's list view (at most 200 bytes)."""
    steps = f", {spec.max_steps} steps" if spec.max_steps else ""
    return f"Fine-tune {spec.name} on {spec.model}{steps}"[:200]


def run_details(spec: RunSpec) -> str:
    """Markdown for the Web UI's detail page: the spec without anything secret.

    A list, not a table (the Web UI runs table cells together), with nested values
    written out as ``key=value`` rather than as a Python repr.
    """
    items = [f"- {key}: `{_plain(value)}`" for key, value in spec.job_config().items()]
    return "\n".join(["**Run spec**", "", *items])


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return " · ".join(f"{key}={_plain(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def start_attributes(spec: RunSpec) -> TypedSearchAttributes:
    """Search attributes a run carries from its first moment (the workflow adds the rest)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.RUN_NAME, spec.name),
            SearchAttributePair(sa.MODEL, spec.model),
            SearchAttributePair(sa.PHASE, Phase.SUBMITTING.value),
        ]
    )


async def start_run(
    client: Client, spec: RunSpec, *, task_queue: str, workflow_id: str | None = None
) -> RunHandle:
    """Start a run; :class:`RunAlreadyExistsError` if the id was ever used, open or closed
    (a second run under one id would hide the first from ``run status`` and ``run result``)."""
    run_id = workflow_id or default_workflow_id(spec)
    try:
        return await client.start_workflow(
            WorkflowName.TRAINING_RUN,
            RunInput(spec=spec),
            result_type=RunResult,
            id=run_id,
            task_queue=task_queue,
            search_attributes=start_attributes(spec),
            static_summary=run_summary(spec),
            static_details=run_details(spec),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        description = await get_run(client, run_id).describe()
        status = description.status.name.lower() if description.status else "unknown"
        state = "still running" if status == "running" else f"closed: {status}"
        raise RunAlreadyExistsError(run_id, state) from None


def get_run(client: Client, workflow_id: str) -> RunHandle:
    """A handle on an existing run (no call is made until it is used)."""
    return client.get_workflow_handle(workflow_id, result_type=RunResult)


# -- inspecting -----------------------------------------------------------------


class RunRow(BaseModel):
    """One run as Temporal's visibility store knows it (search attributes included), and,
    when listed ``with_progress``, how far it got (from its heartbeat or its result)."""

    workflow_id: str
    run_id: str | None
    execution_status: str
    start_time: datetime
    close_time: datetime | None
    run_name: str | None
    model: str | None
    phase: str | None
    job_id: str | None
    checkpoint_step: int | None
    best_eval: float | None
    outcome: str | None = None  # completed, failed, cancelled or stopped, once known
    step: int | None = None
    max_steps: int | None = None
    last_loss: float | None = None

    @classmethod
    def of(cls, execution: WorkflowExecution) -> RunRow:
        attributes = execution.typed_search_attributes
        return cls(
            workflow_id=execution.id,
            run_id=execution.run_id,
            execution_status=execution.status.name if execution.status else "UNKNOWN",
            start_time=execution.start_time,
            close_time=execution.close_time,
            run_name=attributes.get(sa.RUN_NAME),
            model=attributes.get(sa.MODEL),
            phase=attributes.get(sa.PHASE),
            job_id=attributes.get(sa.JOB_ID),
            checkpoint_step=attributes.get(sa.STEP),
            best_eval=attributes.get(sa.BEST_EVAL),
        )

    @property
    def running(self) -> bool:
        return self.execution_status == WorkflowExecutionStatus.RUNNING.name

    @property
    def shown_phase(self) -> str:
        """The outcome once known, else the phase, unless the run closed before recording its
        end (terminated, timed out): then how it closed, so a closed run never reads as
        running."""
        if self.outcome is not None:
            return self.outcome
        if not self.running and self.phase in (None, Phase.QUEUED.value, Phase.RUNNING.value):
            return self.execution_status.lower()
        return self.phase or "-"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float:
        """From start to close, or to now for a running run."""
        end = self.close_time or datetime.now(UTC)
        return max(0.0, (end - self.start_time).total_seconds())

    async def with_progress(self, client: Client) -> RunRow:
        """This row with step, max steps, last loss and outcome: a running run's from the
        stream's last heartbeat (one describe), a closed run's from its result."""
        handle = get_run(client, self.workflow_id)
        if self.running:
            cursor = await stream_cursor(await handle.describe())
            live = cursor.progress if cursor else None
            if live is None:
                return self
            return self.model_copy(
                update={"step": live.step, "max_steps": live.max_steps, "last_loss": live.loss}
            )
        try:
            result = await wait_for_result(handle)
        except WorkflowFailureError:  # failed without a result of ours: the row says how
            return self
        best = result.best_checkpoint
        return self.model_copy(
            update={
                "outcome": result.status.value,
                "step": result.metrics.steps,
                "max_steps": result.max_steps,
                "last_loss": result.metrics.last_loss,
                "best_eval": best.score if best and best.score is not None else self.best_eval,
            }
        )


class RunInfo(BaseModel):
    """Everything ``run status`` shows: the row, the static summary, live state or result."""

    run: RunRow
    summary: str | None
    details: str | None
    status: StatusView | None
    result: RunResult | None
    stream_trouble: str | None = None  # why the job's events do not come, while it lasts
    live: LiveProgress | None = None  # the latest log, fresher than ``status`` between batches


async def describe_training_run(handle: RunHandle) -> WorkflowExecutionDescription:
    """The execution's description; RunNotFoundError unless it is a training run."""
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and not namespace_missing(exc):
            raise RunNotFoundError(handle.id) from None
        raise
    if description.workflow_type != WorkflowName.TRAINING_RUN:
        raise RunNotFoundError(handle.id)
    return description


async def describe_run(handle: RunHandle) -> RunInfo:
    """The run's state: live (queries) while it runs, its result once it has ended."""
    description = await describe_training_run(handle)
    row = RunRow.of(description)
    running = row.running
    cursor = await stream_cursor(description) if running else None
    return RunInfo(
        run=row,
        summary=await description.static_summary(),
        details=await live_details(handle) if running else None,
        status=await query_status(handle) if running else None,
        result=None if running else await wait_for_result(handle),
        stream_trouble=cursor.trouble if cursor else None,
        live=cursor.progress if cursor else None,
    )


async def stream_cursor(description: WorkflowExecutionDescription) -> StreamCursor | None:
    """The stream activity's last heartbeat details: live progress and why events wait.

    Heartbeats cost no history events, and a describe returns them: this is how the
    live view stays fresh between the batches the workflow records.
    """
    for pending in description.raw_description.pending_activities:
        payloads = pending.heartbeat_details.payloads
        if pending.activity_type.name == ActivityName.FOLLOW_JOB_EVENTS and payloads:
            [details] = await description.data_converter.decode(payloads)
            return StreamCursor.model_validate(details)
    return None


async def _query(handle: RunHandle, query: str, result_type: type) -> Any:
    """A query's answer, or None when no worker can answer in time."""
    try:
        return await handle.query(query, result_type=result_type, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status in (
            RPCStatusCode.NOT_FOUND,
            RPCStatusCode.FAILED_PRECONDITION,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.CANCELLED,
        ):
            return None
        raise


async def query_status(handle: RunHandle) -> StatusView | None:
    """Live status, or None when no worker can answer."""
    status: StatusView | None = await _query(handle, TrainingRunMessage.STATUS, StatusView)
    return status


async def query_metrics(handle: RunHandle) -> list[MetricPoint]:
    """The downsampled metrics series (empty when no worker can answer)."""
    series: list[MetricPoint] | None = await _query(
        handle, TrainingRunMessage.METRICS, list[MetricPoint]
    )
    return series or []


@dataclass(frozen=True)
class RunRecord:
    """What a run has recorded so far: metrics series, checkpoints, evaluations, hook
    failures and notifications; the result once it has ended, the stream's latest log
    while it runs."""

    series: list[MetricPoint]
    evals: list[CheckpointEval]
    checkpoints: list[int] = field(default_factory=list)
    hook_failures: list[HookOutcome] = field(default_factory=list)
    notifications: list[DeliveryRecord] = field(default_factory=list)
    result: RunResult | None = None
    live: LiveProgress | None = None

    @classmethod
    def of_result(cls, result: RunResult) -> RunRecord:
        """An ended run's record: its result holds all of it."""
        return cls(
            result.series,
            result.evals,
            checkpoints=[c.step for c in result.checkpoints],
            hook_failures=result.hook_failures,
            notifications=result.notifications,
            result=result,
        )


async def run_record(handle: RunHandle) -> RunRecord:
    """From the live run (queries) while it runs, from its result once it has ended."""
    description = await describe_training_run(handle)
    if description.status == WorkflowExecutionStatus.RUNNING:
        evals: list[CheckpointEval] | None = await _query(
            handle, TrainingRunMessage.EVALUATIONS, list[CheckpointEval]
        )
        status = await query_status(handle)
        cursor = await stream_cursor(description)
        return RunRecord(
            await query_metrics(handle),
            evals or [],
            checkpoints=status.checkpoints if status else [],
            hook_failures=status.hook_failures if status else [],
            notifications=status.notifications if status else [],
            live=cursor.progress if cursor else None,
        )
    return RunRecord.of_result(await wait_for_result(handle))


async def run_spec(client: Client, workflow_id: str) -> RunSpec:
    """The spec the run was started with (its latest execution's input: a continued run
    carries the same spec); RunNotFoundError for an unknown id."""
    handle = get_run(client, workflow_id)
    await describe_training_run(handle)
    async for event in handle.fetch_history_events():
        attributes = event.workflow_execution_started_event_attributes
        [run_input] = await client.data_converter.decode(attributes.input.payloads, [RunInput])
        assert isinstance(run_input, RunInput)
        return run_input.spec
    raise RunNotFoundError(handle.id)


async def live_details(handle: RunHandle) -> str | None:
    """The markdown the Web UI shows as the run's current details."""
    metadata: WorkflowMetadata | None = await _query(
        handle, "__temporal_workflow_metadata", WorkflowMetadata
    )
    return metadata.current_details or None if metadata else None


@dataclass(frozen=True)
class Snapshot:
    """One observation of a running run, for live views."""

    status: StatusView | None
    series: list[MetricPoint]
    live: LiveProgress | None = None  # the stream's latest log, when newer than ``status``

    @property
    def step(self) -> int:
        """The freshest step known: the live one between the workflow's batches."""
        recorded = self.status.step if self.status else 0
        return max(recorded, self.live.step if self.live else 0)


async def follow_run(handle: RunHandle, *, poll_seconds: float = 0.5) -> AsyncIterator[Snapshot]:
    """Yield the run's live state every ``poll_seconds`` until it closes."""
    while True:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return
        cursor = await stream_cursor(description)
        yield Snapshot(
            await query_status(handle),
            await query_metrics(handle),
            live=cursor.progress if cursor else None,
        )
        await asyncio.sleep(poll_seconds)


# -- listing --------------------------------------------------------------------


@dataclass(frozen=True)
class RunFilter:
    """What ``run list`` filters on; each set field narrows the list (AND)."""

    phase: str | None = None
    model: str | None = None
    name: str | None = None  # exact, or a prefix ending in ``*``
    since: datetime | None = None
    running: bool | None = None
    extra: str | None = None  # a raw List Filter, ANDed

    def query(self) -> str:
        clauses = [f"WorkflowType = {_quote(WorkflowName.TRAINING_RUN)}"]
        if self.phase:
            clauses.append(f"{sa.PHASE.name} = {_quote(self.phase)}")
        if self.model:
            clauses.append(f"{sa.MODEL.name} = {_quote(self.model)}")
        if self.name and self.name.endswith("*"):
            clauses.append(f"{sa.RUN_NAME.name} STARTS_WITH {_quote(self.name[:-1])}")
        elif self.name:
            clauses.append(f"{sa.RUN_NAME.name} = {_quote(self.name)}")
        if self.since:
            since = self.since.astimezone(UTC).isoformat().replace("+00:00", "Z")
            clauses.append(f"StartTime >= {_quote(since)}")
        if self.running is not None:
            clauses.append(f"ExecutionStatus {'=' if self.running else '!='} 'Running'")
        if self.extra:
            clauses.append(f"({self.extra})")
        return " AND ".join(clauses)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


# Concurrent calls when listing with progress: one per row, bounded for the server's sake.
PROGRESS_CALLS = 8


async def list_runs(
    client: Client, run_filter: RunFilter, *, limit: int = 50, progress: bool = False
) -> list[RunRow]:
    """Runs matching the filter, newest first (visibility is eventually consistent).

    With ``progress``, each row also carries step, max steps, last loss and outcome,
    at the cost of one call per run (see :meth:`RunRow.with_progress`).
    """
    rows = [
        RunRow.of(execution)
        async for execution in client.list_workflows(run_filter.query(), limit=limit)
    ]
    if not progress:
        return rows
    slots = asyncio.Semaphore(PROGRESS_CALLS)

    async def enriched(row: RunRow) -> RunRow:
        async with slots:
            return await row.with_progress(client)

    return list(await asyncio.gather(*(enriched(row) for row in rows)))


# -- ending ---------------------------------------------------------------------


async def wait_for_result(handle: RunHandle) -> RunResult:
    """The run's result, also for runs that failed, were cancelled or terminated."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        if isinstance(exc.cause, CancelledError) and (kept := await _kept_result(handle)):
            return kept
        result = _result_of_failure(exc.cause)
        if result is None:
            raise
        return result


async def _kept_result(handle: RunHandle) -> RunResult | None:
    """A Canceled run's result, which it keeps in its memo (none before that was so)."""
    description = await handle.describe()
    kept: RunResult | None = await description.memo_value(RESULT_MEMO, None, type_hint=RunResult)
    return kept


def _result_of_failure(cause: BaseException | None) -> RunResult | None:
    if isinstance(cause, ApplicationError) and cause.details:
        return RunResult.model_validate(cause.details[0])
    outcome = {
        CancelledError: (RunStatus.CANCELLED, "workflow cancelled"),
        TerminatedError: (RunStatus.CANCELLED, "workflow terminated"),
        TimeoutError: (RunStatus.FAILED, "workflow timed out"),
    }.get(type(cause))
    if outcome is None:
        return None
    status, what = outcome
    return RunResult(
        status=status,
        reason=f"{what}: {cause}" if str(cause) else what,
        run_name="",
        job_id=None,
        metrics=MetricsSummary(),
        series=[],
        checkpoints=[],
        ledger=EventLedger(),
    )


def exit_code(result: RunResult) -> int:
    """For CI: 0 only for a completed run; 1 failed; 3 cancelled or stopped."""
    return {RunStatus.COMPLETED: 0, RunStatus.FAILED: 1}.get(result.status, 3)


CANCEL_DELIVERY_ATTEMPTS = 5


async def cancel_run(
    handle: RunHandle,
    reason: str,
    requested_by: str,
    *,
    use_signal: bool = False,
) -> CancelAck | None:
    """Cancel a run through the ``cancel`` update (answers once the backend accepted).

    With ``use_signal`` the ``request_cancel`` signal is sent instead, for tools that
    can only signal; it returns None at once, without an acknowledgement. A run that
    has already ended answers ``already_finished``; an unknown id raises
    :class:`RunNotFoundError`; a refused request raises ``WorkflowUpdateFailedError``.
    """
    request = CancelRequest(reason=reason, requested_by=requested_by)
    for attempt in range(CANCEL_DELIVERY_ATTEMPTS):
        try:
            if use_signal:
                await handle.signal(TrainingRunMessage.REQUEST_CANCEL, request)
                return None
            ack: CancelAck = await handle.execute_update(
                TrainingRunMessage.CANCEL, request, result_type=CancelAck
            )
            return ack
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                break  # the run has closed
            # The update reached the workflow task that closed the run (the server then
            # fails that task to deliver it): ask again; the run is open or closed by then.
            if (
                exc.status != RPCStatusCode.FAILED_PRECONDITION
                or attempt == CANCEL_DELIVERY_ATTEMPTS - 1
            ):
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
    result = (await describe_run(handle)).result  # raises RunNotFoundError for an unknown id
    if result is None:  # closed between the two calls: its end is not recorded yet
        result = await wait_for_result(handle)
    return CancelAck(
        outcome=CancelOutcome.ALREADY_FINISHED,
        run_status=result.status.value,
        job_id=result.job_id,
        backend_status=None,
        reason=result.reason,
    )
