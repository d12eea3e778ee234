"""The deadline rule on its own: pure inputs, the time left or the stop it calls for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arkor_temporal.core.deadlines import check_deadlines
from arkor_temporal.core.models import Phase, StopDecision, StopKind
from arkor_temporal.core.spec import DeadlinesSpec

ORIGIN = 1_000_000.0


def check(phase: Phase, elapsed: float, **limits: str) -> timedelta | StopDecision | None:
    return check_deadlines(
        DeadlinesSpec.model_validate(limits),
        origin_epoch=ORIGIN,
        now_epoch=ORIGIN + elapsed,
        phase=phase,
    )


def test_no_deadline_or_no_origin_means_no_timer() -> None:
    assert check_deadlines(None, origin_epoch=ORIGIN, now_epoch=ORIGIN, phase=Phase.RUNNING) is None
    spec = DeadlinesSpec.model_validate({"maxDuration": "1h"})
    assert check_deadlines(spec, origin_epoch=None, now_epoch=ORIGIN, phase=Phase.RUNNING) is None


def test_time_left_counts_from_the_origin() -> None:
    assert check(Phase.RUNNING, 600, maxDuration="1h") == timedelta(seconds=3000)


def test_max_queued_applies_only_before_training() -> None:
    assert check(Phase.QUEUED, 60, maxQueued="5m") == timedelta(seconds=240)
    assert check(Phase.RUNNING, 600, maxQueued="5m") is None


@pytest.mark.parametrize(
    ("phase", "limits", "rule", "limit"),
    [
        (Phase.RUNNING, {"maxDuration": "10m"}, "maxDuration", 600.0),
        (Phase.QUEUED, {"maxQueued": "10m"}, "maxQueued", 600.0),
        (Phase.QUEUED, {"maxDuration": "10m", "maxQueued": "1h"}, "maxDuration", 600.0),
        (Phase.SUBMITTING, {"maxDuration": "1h", "maxQueued": "10m"}, "maxQueued", 600.0),
        (Phase.QUEUED, {"maxDuration": "10m", "maxQueued": "10m"}, "maxDuration", 600.0),
    ],
)
def test_the_nearest_passed_deadline_stops_the_run(
    phase: Phase, limits: dict[str, str], rule: str, limit: float
) -> None:
    decision = check(phase, 600.5, **limits)
    assert isinstance(decision, StopDecision)
    assert decision.kind is StopKind.DEADLINE
    assert decision.rule == rule
    assert decision.values == {"limitSeconds": limit, "elapsedSeconds": 600.5}
    assert rule in decision.reason
