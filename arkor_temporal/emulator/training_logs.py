"""The ``training.log`` events of a step, in one of two styles (docs/protocol.md §14.5).

``huggingface`` (the default, as Hugging Face's Trainer logs): a train log at
each logging step (``loss``, ``learningRate``, ``samplesPerSecond``; ``evalLoss``
null), a separate eval log at each eval step (``evalLoss``; ``loss`` and
``learningRate`` null), the train one first when both fall on one step; and a
summary log at the final step (``loss`` = the mean train loss) just before
``training.completed``. Every metric key is sent, null when it does not apply.

``combined`` (a switch): at most one log per step carrying whichever metrics the
step has, absent keys left out, and no summary.

A NaN metric is sent as ``null`` with ``"nonFinite": "nan"`` so that the JSON
stays valid and the cause visible.
"""

from __future__ import annotations

import math
from typing import Any, Literal

LoggingStyle = Literal["huggingface", "combined"]

METRIC_KEYS = ("loss", "evalLoss", "learningRate", "epoch", "samplesPerSecond")

MetricGroup = dict[str, float]
"""Raw (maybe NaN) metrics measured together: a step's train metrics, or its eval loss."""


def step_logs(
    step: int, epoch: float, groups: list[MetricGroup], style: LoggingStyle
) -> list[dict[str, Any]]:
    """The fields of each ``training.log`` of a step, in stream order (``groups``: train first)."""
    if style == "combined":
        merged = {key: value for group in groups for key, value in group.items()}
        return [_log(step, explicit_nulls=False, epoch=epoch, **merged)] if groups else []
    return [_log(step, explicit_nulls=True, epoch=epoch, **group) for group in groups]


def summary_log(step: int, mean_train_loss: float | None) -> dict[str, Any]:
    """The Trainer's end-of-training log: only the mean train loss, at the final step."""
    loss = {} if mean_train_loss is None else {"loss": mean_train_loss}
    return _log(step, explicit_nulls=True, **loss)


def finite_or_none(value: float) -> float | None:
    """The wire type of a metric is ``number | null``; NaN and inf become ``null``."""
    return value if math.isfinite(value) else None


def _log(step: int, *, explicit_nulls: bool, **raw: float) -> dict[str, Any]:
    fields: dict[str, Any] = {"step": step}
    if explicit_nulls:
        fields.update(dict.fromkeys(METRIC_KEYS))
    fields.update((key, finite_or_none(value)) for key, value in raw.items())
    if any(math.isnan(value) for value in raw.values()):
        fields["nonFinite"] = "nan"
    return fields
