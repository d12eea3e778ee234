"""The spec's deadlines as a pure rule: given the clock, the time left or the stop they call for.

``maxDuration`` counts from the run's origin (its first start, carried across
continue-as-new); ``maxQueued`` counts from the same origin but applies only
until training starts. The workflow reads the clock and waits; nothing here does.
"""

from __future__ import annotations

from datetime import timedelta

from arkor_temporal.core.models import Phase, StopDecision, StopKind
from arkor_temporal.core.spec import DeadlinesSpec

_BEFORE_TRAINING = (Phase.SUBMITTING, Phase.QUEUED)
_WHAT_WAS_EXCEEDED = {
    "maxDuration": "the run took longer than",
    "maxQueued": "training did not start within",
}


def check_deadlines(
    deadlines: DeadlinesSpec | None,
    *,
    origin_epoch: float | None,
    now_epoch: float,
    phase: Phase,
) -> timedelta | StopDecision | None:
    """The time left before the nearest deadline, or the stop decision once it has passed.

    None when no deadline applies: none is set, the run has no origin yet, or
    only ``maxQueued`` is set and training has started.
    """
    if deadlines is None or origin_epoch is None:
        return None
    limits: list[tuple[str, float]] = []
    if deadlines.max_duration is not None:
        limits.append(("maxDuration", deadlines.max_duration))
    if deadlines.max_queued is not None and phase in _BEFORE_TRAINING:
        limits.append(("maxQueued", deadlines.max_queued))
    if not limits:
        return None
    name, limit = min(limits, key=lambda item: item[1])  # maxDuration on a tie
    elapsed = now_epoch - origin_epoch
    if elapsed < limit:
        return timedelta(seconds=limit - elapsed)
    return StopDecision(
        kind=StopKind.DEADLINE,
        reason=f"deadline {name}: {_WHAT_WAS_EXCEEDED[name]} {limit:g}s",
        requested_by="deadlines",
        rule=name,
        values={"limitSeconds": limit, "elapsedSeconds": round(elapsed, 3)},
    )
