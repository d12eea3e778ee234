"""User hooks: the SDK's callbacks, run durably as activities on the worker.

A spec names a Python callable per event by import path::

    hooks:
      onCheckpoint: {importPath: "my_hooks:on_checkpoint", timeoutSeconds: 120}
      onCompleted: "my_hooks:on_completed"          # shorthand: defaults for the rest

The callable (sync or async) receives ONE argument, the event's ``*Args``
dataclass below; its return value is ignored. Every argument object carries
``run_name``, ``job_id`` (None only when the run failed before a job existed)
and ``workflow_id``:

=============  =================  ======================================================
spec key       argument           fields
=============  =================  ======================================================
onStarted      ``StartedArgs``    ``model``, ``max_steps``
onLog          ``LogBatchArgs``   ``logs``: ``LogEntry`` (``step``, ``loss``, ``eval_loss``,
                                  ``learning_rate``, ``epoch``, ``samples_per_second``;
                                  each None when absent), one batch as relayed
onCheckpoint   ``CheckpointArgs`` ``step``, ``artifacts``, ``adapter`` (the wire reference),
                                  ``infer`` (async; see below)
onCompleted    ``CompletedArgs``  ``artifacts``, ``metrics`` (the run's metrics summary),
                                  ``best_checkpoint`` (best evaluation as JSON, or None)
onFailed       ``FailedArgs``     ``error`` (the backend's or the workflow's reason)
onCancelled    ``CancelledArgs``  ``status`` (``cancelled`` or ``stopped``), ``reason``
=============  =================  ======================================================

``await args.infer(messages=[...], max_tokens=64, **knobs)`` sends a
non-streaming ``POST /v1/inference/chat`` to that checkpoint's adapter with the
worker's Arkor client and returns an ``arkor_cloud.ChatCompletion``; knobs are the
protocol's (docs/protocol.md §5.1; snake_case or camelCase). Like the SDK's, it cannot be
pointed at another adapter. Call it from an async hook.

Semantics: each call is one activity with ``timeoutSeconds`` per attempt and up
to ``maxAttempts`` attempts (a raise, a timeout or a lost worker count as a
failed attempt), so a hook may run more than once and should be idempotent.
A hook that still fails is recorded in the run's result; it fails the run
only when the spec marks it ``critical``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from temporalio.common import RetryPolicy

from arkor_temporal.core.adapters import adapter_reference
from arkor_temporal.core.failures import activity_failure_text
from arkor_temporal.core.imports import check_import_path
from arkor_temporal.core.metrics import LogEntry
from arkor_temporal.core.spec_base import SpecModel

# Lets the hook's own timeout fire (with a clear message) before Temporal's.
_TIMEOUT_GRACE = timedelta(seconds=5)


class HookEvent(StrEnum):
    STARTED = "started"
    LOG = "log"
    CHECKPOINT = "checkpoint"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def spec_key(self) -> str:
        """The key naming this event's hook in a spec: ``onStarted``, ``onLog``..."""
        return f"on{self.value.capitalize()}"


# --- spec -----------------------------------------------------------------------------------


class HookSpec(SpecModel):
    import_path: str = Field(description="package.module:function, importable on the worker")
    critical: bool = Field(default=False, description="a hook that keeps failing fails the run")
    timeout_seconds: float = Field(default=60, gt=0, le=3600, description="per attempt")
    max_attempts: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"importPath": data} if isinstance(data, str) else data

    @field_validator("import_path")
    @classmethod
    def _importable(cls, path: str) -> str:
        return check_import_path(path)


class HooksSpec(SpecModel):
    on_started: HookSpec | None = None
    on_log: HookSpec | None = None
    on_checkpoint: HookSpec | None = None
    on_completed: HookSpec | None = None
    on_failed: HookSpec | None = None
    on_cancelled: HookSpec | None = Field(default=None, description="cancelled or stopped")

    def call_for(self, args: HookArgs) -> HookCall | None:
        """The activity input for this event, or None when the spec has no hook for it."""
        spec: HookSpec | None = getattr(self, f"on_{args.event.value}")
        if spec is None:
            return None
        return HookCall(
            event=args.event,
            import_path=spec.import_path,
            payload=args.payload(),
            critical=spec.critical,
            timeout_seconds=spec.timeout_seconds,
            max_attempts=spec.max_attempts,
        )


# --- arguments ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HookArgs:
    event: ClassVar[HookEvent]

    run_name: str
    job_id: str | None
    workflow_id: str

    def payload(self) -> dict[str, Any]:
        """The JSON-safe form that travels to the worker in :class:`HookCall`."""
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(**payload)


@dataclass(frozen=True, kw_only=True)
class StartedArgs(HookArgs):
    event = HookEvent.STARTED
    model: str
    max_steps: int | None = None


@dataclass(frozen=True, kw_only=True)
class LogBatchArgs(HookArgs):
    event = HookEvent.LOG
    logs: list[LogEntry]

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "logs": [entry.model_dump() for entry in self.logs]}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(**{**payload, "logs": [LogEntry(**entry) for entry in payload["logs"]]})


# Returns an ``arkor_cloud.ChatCompletion``; typed loosely so this layer needs no cloud client.
Infer = Callable[..., Awaitable[Any]]


async def _unbound_infer(*_args: Any, **_knobs: Any) -> Any:
    raise RuntimeError("infer is bound by the worker when the onCheckpoint hook runs")


@dataclass(frozen=True, kw_only=True)
class CheckpointArgs(HookArgs):
    event = HookEvent.CHECKPOINT
    step: int
    artifacts: list[Any] = field(default_factory=list)
    infer: Infer = field(default=_unbound_infer, repr=False, compare=False)

    @property
    def adapter(self) -> dict[str, Any]:
        return adapter_reference(self.job_id, self.step)

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        del data["infer"]
        return data


@dataclass(frozen=True, kw_only=True)
class CompletedArgs(HookArgs):
    event = HookEvent.COMPLETED
    artifacts: list[Any] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    best_checkpoint: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class FailedArgs(HookArgs):
    event = HookEvent.FAILED
    error: str


@dataclass(frozen=True, kw_only=True)
class CancelledArgs(HookArgs):
    event = HookEvent.CANCELLED
    status: Literal["cancelled", "stopped"]
    reason: str


ARGS_TYPES: dict[HookEvent, type[HookArgs]] = {
    cls.event: cls
    for cls in (StartedArgs, LogBatchArgs, CheckpointArgs, CompletedArgs, FailedArgs, CancelledArgs)
}


# --- activity input and output --------------------------------------------------------------


class HookCall(BaseModel):
    """Input of the ``run_hook`` activity; the workflow takes its options from it too."""

    model_config = ConfigDict(extra="forbid")

    event: HookEvent
    import_path: str
    payload: dict[str, Any]
    critical: bool
    timeout_seconds: float
    max_attempts: int

    def arguments(self) -> HookArgs:
        return ARGS_TYPES[self.event].from_payload(self.payload)

    @property
    def start_to_close_timeout(self) -> timedelta:
        return timedelta(seconds=self.timeout_seconds) + _TIMEOUT_GRACE

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=self.max_attempts,
        )

    @property
    def summary(self) -> str:
        return f"{self.event.spec_key} hook {self.import_path}"


class HookOutcome(BaseModel):
    """What became of one hook call; kept in the run's result."""

    model_config = ConfigDict(extra="forbid")

    event: HookEvent
    import_path: str
    ok: bool
    critical: bool = False
    error: str | None = None
    attempts: int = Field(description="attempts made; on failure, the attempts allowed")

    @classmethod
    def failure(cls, call: HookCall, error: BaseException) -> HookOutcome:
        """The record of a call whose retries are exhausted (the workflow catches the error)."""
        return cls(
            event=call.event,
            import_path=call.import_path,
            ok=False,
            critical=call.critical,
            error=activity_failure_text(error),
            attempts=call.max_attempts,
        )
