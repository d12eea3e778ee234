"""Job event stream payloads and the tolerant frame parser (docs/protocol.md §3.3, §14.9)."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

import structlog
from httpx_sse import ServerSentEvent
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from arkor_cloud.models import WireModel

__all__ = [
    "CheckpointSaved",
    "CompletedMetrics",
    "StreamEvent",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingLog",
    "TrainingStarted",
    "UnknownEvent",
    "parse_event",
]

_log = structlog.get_logger("arkor_cloud.events")


class StreamEvent(WireModel):
    """A data event of the job stream. `event_id` is the SSE `id:`, not part of the JSON."""

    terminal: ClassVar[bool] = False

    event_id: str | None = None
    type: str
    job_id: str | None = None
    timestamp: str | None = None

    @property
    def is_terminal(self) -> bool:
        """`training.completed` and `training.failed` end a run; nothing follows them."""
        return self.terminal


class TrainingStarted(StreamEvent):
    type: Literal["training.started"] = "training.started"
    metadata: Any = None


class TrainingLog(StreamEvent):
    # Metrics may be null, and NaN/Infinity if a server ever emits those JSON extensions.
    type: Literal["training.log"] = "training.log"
    step: int
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    epoch: float | None = None
    samples_per_second: float | None = None


class CheckpointSaved(StreamEvent):
    type: Literal["checkpoint.saved"] = "checkpoint.saved"
    step: int
    artifacts: list[Any] = []


def _none_when_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A malformed figure must not cost the terminal event it rides on.
    try:
        return handler(value)
    except ValidationError:
        return None


NoneWhenInvalid = WrapValidator(_none_when_invalid)


class CompletedMetrics(WireModel):
    """`training.completed.metrics` as PR #210 types it (docs/protocol.md §14.13).

    Older servers typed it `unknown`: other keys are kept, and a figure of the wrong
    type reads as null.
    """

    final_loss: Annotated[float | None, NoneWhenInvalid] = None
    total_steps: Annotated[int | None, NoneWhenInvalid] = None
    total_time: Annotated[float | None, NoneWhenInvalid] = None


class TrainingCompleted(StreamEvent):
    terminal: ClassVar[bool] = True
    type: Literal["training.completed"] = "training.completed"
    # Anything but an object (the old `unknown` allowed it) reads as no metrics.
    metrics: Annotated[CompletedMetrics | None, NoneWhenInvalid] = None
    artifacts: list[Any] = []


class TrainingFailed(StreamEvent):
    terminal: ClassVar[bool] = True
    type: Literal["training.failed"] = "training.failed"
    error: str
    step: int | None = None  # null or absent: the failure is not tied to a step


class UnknownEvent(StreamEvent):
    """Any other `type` (e.g. `training.cancelled`); the whole payload is kept as extra keys."""


_KNOWN: dict[str, type[StreamEvent]] = {
    cls.model_fields["type"].default: cls
    for cls in (TrainingStarted, TrainingLog, CheckpointSaved, TrainingCompleted, TrainingFailed)
}


def parse_event(sse: ServerSentEvent) -> StreamEvent | None:
    """Decode one data frame, or return None for a frame that must be skipped.

    Skipped (and logged at debug, never raised): malformed JSON, JSON that is not an
    object (`null`, `7`), a missing `type`, a `type` that contradicts the `event:` name,
    and a known type whose fields do not validate.
    """
    decoded = _decode(sse)
    if isinstance(decoded, str):
        _log.debug(
            "arkor_cloud.stream.frame_skipped", reason=decoded, sse_event=sse.event, sse_id=sse.id
        )
        return None
    return decoded


def _decode(sse: ServerSentEvent) -> StreamEvent | str:
    """The event, or why the frame is skipped."""
    try:
        payload = json.loads(sse.data)
    except ValueError:
        return "malformed JSON"
    if not isinstance(payload, dict):
        return "data is not a JSON object"
    kind = payload.get("type")
    if not isinstance(kind, str):
        return "missing type"
    # httpx-sse names frames without an `event:` line "message"; the SDK routes on `type`.
    if sse.event not in ("message", kind):
        return "event name and type disagree"
    try:
        event = _KNOWN.get(kind, UnknownEvent).model_validate(payload)
    except ValidationError as exc:
        return f"invalid {kind}: {exc.error_count()} error(s)"
    return event.model_copy(update={"event_id": sse.id or None})
