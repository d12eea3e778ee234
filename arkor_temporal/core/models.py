"""Typed inputs, outputs and messages of the training-run workflow.

These travel through Temporal payloads (pydantic data converter), so they hold
no secrets and stay small: an event is reduced to what the workflow decides on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.hooks import HookOutcome
from arkor_temporal.core.metrics import LogEntry, LogMetrics
from arkor_temporal.core.notifications import DeliveryRecord
from arkor_temporal.core.spec import RunSpec, StopRulesSpec


class Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid")


class EventType(StrEnum):
    STARTED = "training.started"
    LOG = "training.log"
    CHECKPOINT = "checkpoint.saved"
    COMPLETED = "training.completed"
    FAILED = "training.failed"


TERMINAL_EVENT_TYPES = frozenset({EventType.COMPLETED.value, EventType.FAILED.value})


class RunEvent(Model, LogMetrics):
    """One backend event, reduced to the fields the workflow uses (a log's metrics are flat)."""

    event_id: str | None
    type: str
    timestamp: str | None = None
    step: int | None = None
    non_finite_loss: bool = False
    artifacts: list[Any] | None = None
    error: str | None = None

    def log_entry(self) -> LogEntry:
        """This log's metrics, as hooks and the metrics series take them."""
        metrics = self.model_dump(include=set(LogMetrics.model_fields))
        return LogEntry(step=self.step or 0, **metrics)


class StreamOrigin(Model):
    """Where a relayed run of events starts in the job's stream (docs/protocol.md §14.5)."""

    after: str | None = Field(
        description="id of the event just before the first one; None: the stream's start"
    )


class EventBatch(Model):
    """Events relayed by the stream activity, contiguous and in stream order."""

    events: list[RunEvent]
    sender: str = Field(description="activity attempt that read them, for diagnostics")
    origin: StreamOrigin | None = Field(
        default=None, description="where the events start; None from senders that predate it"
    )


class JobRef(Model):
    job_id: str
    run_name: str
    marker: str
    adopted: bool = Field(description="true when a retried start found the job already created")


class JobState(StrEnum):
    """A backend job's status as the workflow records it: the API's five, or missing."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSING = "missing"  # the backend answers 404: nothing of the job runs any more


class JobSnapshot(Model):
    job_id: str
    status: JobState
    error: str | None = None


class StartJobInput(Model):
    spec: RunSpec
    marker: str


class FollowInput(Model):
    job_id: str
    workflow_id: str
    run_id: str
    resume_after: str | None = Field(description="last event id the workflow applied")
    flush_seconds: float
    job_lost_after_seconds: float | None = Field(
        default=None, description="None: the worker's own default"
    )
    stop_rules: StopRulesSpec | None = Field(
        default=None, description="relayed at once when one holds, so a stop is not delayed"
    )
    max_steps: int | None = Field(default=None, description="for the live view's step/max")
    urgent_checkpoints: bool = Field(
        default=True,
        description="relay a checkpoint at once (the run evaluates it or runs a hook for it); "
        "otherwise it waits for the next flush like a log",
    )


class LiveProgress(Model):
    """The job's latest training log as the stream activity saw it.

    Travels in heartbeat details, which cost no history events: ``run watch``,
    ``run status`` and the Web UI's pending activities read it between the
    workflow's own updates (which come at decisions and flushes).
    """

    step: int
    max_steps: int | None = None
    loss: float | None = None
    learning_rate: float | None = None
    steps_per_second: float | None = Field(default=None, description="smoothed, backend clock")
    at: str | None = Field(default=None, description="the log's timestamp")

    def after(self, log: RunEvent, max_steps: int | None) -> LiveProgress:
        """The progress once ``log`` is seen (``self`` is the one before it)."""
        return LiveProgress.first(log, max_steps, rate=_rate(self, log))

    @classmethod
    def first(cls, log: RunEvent, max_steps: int | None, rate: float | None = None) -> LiveProgress:
        return cls(
            step=log.step or 0,
            max_steps=max_steps,
            loss=log.loss,
            learning_rate=log.learning_rate,
            steps_per_second=rate,
            at=log.timestamp,
        )

    def line(self) -> str:
        """``step 120/1000 (12%) · loss 1.2340 · 0.80 steps/s``: readable in the Web UI."""
        parts = [f"step {self.step}"]
        if self.max_steps:
            parts[0] += f"/{self.max_steps} ({100 * self.step / self.max_steps:.0f}%)"
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if self.steps_per_second is not None:
            parts.append(f"{self.steps_per_second:.2f} steps/s")
        return " · ".join(parts)


_RATE_SMOOTHING = 0.3  # weight of the newest interval in the smoothed rate


def _rate(before: LiveProgress, log: RunEvent) -> float | None:
    """Steps per second between two logs by their timestamps, smoothed with the last rate."""
    try:
        then = datetime.fromisoformat(before.at or "")
        now = datetime.fromisoformat(log.timestamp or "")
    except ValueError:
        return before.steps_per_second
    seconds, steps = (now - then).total_seconds(), (log.step or 0) - before.step
    if seconds <= 0 or steps <= 0:
        return before.steps_per_second
    rate = steps / seconds
    if before.steps_per_second is None:
        return rate
    return _RATE_SMOOTHING * rate + (1 - _RATE_SMOOTHING) * before.steps_per_second


class StreamCursor(Model):
    """The stream activity's heartbeat details: live progress, resume position, trouble.

    Shown in the Web UI's pending activities (``live`` first, so it reads at a glance)
    and read by ``run status`` and ``run watch``.
    """

    live: str | None = Field(default=None, description="the latest step, loss and rate")
    last_event_id: str | None = Field(
        default=None, description="the last event the workflow has acknowledged"
    )
    relayed_batches: int = 0
    trouble: str | None = Field(default=None, description="why no event comes, while it lasts")
    failures: int = Field(
        default=0, description="attempts in a row that failed on their own (not hand-overs)"
    )
    progress: LiveProgress | None = None


class StreamOutcome(Model):
    """What the stream activity returns when the job's stream is over."""

    tail: list[RunEvent] = Field(description="events read after the last relayed batch")
    tail_origin: StreamOrigin | None = Field(
        default=None, description="where the tail starts; None from senders that predate it"
    )
    final_status: JobState | None = Field(
        default=None, description="job status confirmed by GET /v1/jobs/:id, when it was asked"
    )
    final_error: str | None = None


class Phase(StrEnum):
    SUBMITTING = "submitting"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"


class MetricPoint(Model):
    """One point of the downsampled series: the plotted subset of a :class:`LogEntry`."""

    step: int
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None


class CheckpointInfo(Model):
    step: int
    event_id: str | None
    artifacts: list[Any] = Field(default_factory=list)


class EventLedger(Model):
    """Proof of exactly-once: a count and a hash chain over applied event ids."""

    count: int = 0
    digest: str = ""
    by_type: dict[str, int] = Field(default_factory=dict)
    duplicates_dropped: int = 0


class MetricsSummary(Model):
    steps: int = 0
    last_loss: float | None = None
    min_loss: float | None = None
    last_eval_loss: float | None = None
    min_eval_loss: float | None = None
    last_learning_rate: float | None = None
    last_epoch: float | None = None
    non_finite_losses: int = 0
    mean_train_loss: float | None = Field(
        default=None, description="from the Trainer's summary log at the end of training"
    )


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"


class RuleState(Model):
    """What the stop rules remember between log events."""

    window: list[float] = Field(default_factory=list)
    best: float | None = None
    since_best: int = 0


class StopKind(StrEnum):
    OPS_CANCEL = "ops-cancel"
    WORKFLOW_CANCEL = "workflow-cancel"
    STOP_RULE = "stop-rule"
    DEADLINE = "deadline"
    CRITICAL_HOOK = "critical-hook"


class StopDecision(Model):
    """Why the run is being ended early; the first decision wins."""

    kind: StopKind
    reason: str
    requested_by: str
    rule: str | None = None
    step: int | None = None
    values: dict[str, float | None] = Field(default_factory=dict)

    @property
    def run_status(self) -> RunStatus:
        if self.kind in (StopKind.OPS_CANCEL, StopKind.WORKFLOW_CANCEL):
            return RunStatus.CANCELLED
        if self.kind is StopKind.CRITICAL_HOOK:
            return RunStatus.FAILED
        return RunStatus.STOPPED


class RunProgressState(Model):
    """Everything the workflow knows about the job; carried across continue-as-new."""

    phase: Phase = Phase.SUBMITTING
    cursor: str | None = None
    started_at: str | None = None
    last_log_step: int = 0
    last_loss_step: int | None = None  # the step of the last train loss applied
    summary_log_id: str | None = None  # the Trainer's end-of-training summary, once seen
    last_checkpoint_step: int = 0
    terminal_event: RunEvent | None = None
    checkpoints: list[CheckpointInfo] = Field(default_factory=list)
    summary: MetricsSummary = Field(default_factory=MetricsSummary)
    series: list[MetricPoint] = Field(default_factory=list)
    series_stride: int = 1
    logs_seen: int = 0
    ledger: EventLedger = Field(default_factory=EventLedger)
    rules: RuleState = Field(default_factory=RuleState)
    evals: list[CheckpointEval] = Field(default_factory=list, description="by checkpoint step")
    hook_failures: list[HookOutcome] = Field(default_factory=list)
    deliveries: list[DeliveryRecord] = Field(default_factory=list)
    notified: list[str] = Field(
        default_factory=list, description="notification events already decided for this run"
    )
    origin_epoch: float | None = Field(
        default=None,
        description="when the first run of the chain started (deadlines count from it)",
    )


class CarriedState(Model):
    job: JobRef
    progress: RunProgressState
    links: int = Field(description="how many runs of this workflow came before this one")


class RunInput(Model):
    spec: RunSpec
    carried: CarriedState | None = None


class RunResult(Model):
    status: RunStatus
    reason: str
    run_name: str
    job_id: str | None
    max_steps: int | None = Field(default=None, description="the spec's maxSteps")
    artifacts: list[Any] = Field(default_factory=list)
    metrics: MetricsSummary
    series: list[MetricPoint]
    checkpoints: list[CheckpointInfo]
    ledger: EventLedger
    stop: StopDecision | None = Field(
        default=None, description="why the run was cancelled or stopped, when it was"
    )
    evals: list[CheckpointEval] = Field(default_factory=list)
    best_checkpoint: CheckpointEval | None = Field(
        default=None, description="the best-scoring checkpoint; its adapter is ready to deploy"
    )
    hook_failures: list[HookOutcome] = Field(default_factory=list)
    notifications: list[DeliveryRecord] = Field(default_factory=list)
    continued_as_new: int = 0


class CancelRequest(Model):
    """Argument of the ``cancel`` update and the ``request_cancel`` signal."""

    reason: str = Field(min_length=1, max_length=500)
    requested_by: str = Field(min_length=1, max_length=200)


class CloseAsCanceled(Model):
    """Input of ``close_as_canceled``: the run to ask Temporal to cancel, and why."""

    workflow_id: str
    run_id: str
    reason: str


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # the backend confirmed the cancel
    ALREADY_FINISHED = "already_finished"  # the run had ended; nothing changed
    ALREADY_REQUESTED = "already_requested"  # another stop was already in effect


class CancelAck(Model):
    """Answer of the ``cancel`` update, given once the backend accepted (or had no need)."""

    outcome: CancelOutcome
    run_status: str
    job_id: str | None
    backend_status: str | None = Field(description="job status the backend reported")
    reason: str


class OrphanJob(Model):
    """A backend job this orchestrator created whose workflow no longer follows it."""

    job_id: str
    job_status: str
    workflow_id: str | None
    why: str


class OrphanScan(Model):
    checked: int = Field(description="non-terminal backend jobs carrying our marker")
    orphans: list[OrphanJob]


class ReaperInput(Model):
    dry_run: bool = Field(default=False, description="report orphans without cancelling them")


class ReaperReport(Model):
    checked: int
    orphans: list[OrphanJob]
    cancelled: list[JobSnapshot]


class EvalPoint(Model):
    """One checkpoint's evaluation, without the per-case detail."""

    step: int
    score: float | None
    passed: bool
    delta: float | None = None
    error: str | None = None


class StatusView(Model):
    """Answer of the ``status`` query."""

    run_name: str
    phase: Phase
    job_id: str | None
    step: int
    max_steps: int | None
    metrics: MetricsSummary
    checkpoints: list[int]
    ledger: EventLedger
    stop: StopDecision | None = None
    evals: list[EvalPoint] = Field(default_factory=list)
    best_eval_step: int | None = None
    links: int
    hook_failures: list[HookOutcome] = Field(default_factory=list)
    notifications: list[DeliveryRecord] = Field(default_factory=list)
