"""What one training log reports: the one model of a log's metrics.

The wire event (``arkor_cloud.TrainingLog``) is decoded by the client; the stream
activity reduces it to a :class:`~arkor_temporal.core.models.RunEvent`, whose
:meth:`~arkor_temporal.core.models.RunEvent.log_entry` gives this model to hooks
and to the metrics series. Every metric may be absent (docs/protocol.md §3.3).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LogMetrics(BaseModel):
    """The metrics a ``training.log`` may carry (None when absent)."""

    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    epoch: float | None = None
    samples_per_second: float | None = None


class LogEntry(LogMetrics):
    """One ``training.log``: its step and the metrics it carried."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
