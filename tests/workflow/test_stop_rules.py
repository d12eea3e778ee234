"""Stop rules as pure functions: examples, and a property against a from-scratch reference."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from arkor_temporal.core.models import RuleState, RunEvent
from arkor_temporal.core.spec import StopRulesSpec
from arkor_temporal.core.stop_rules import observe


def log(step: int, loss: float | None = None, eval_loss: float | None = None) -> RunEvent:
    non_finite = loss is not None and not math.isfinite(loss)
    return RunEvent(
        event_id=str(step),
        type="training.log",
        step=step,
        loss=None if non_finite else loss,
        eval_loss=eval_loss,
        non_finite_loss=non_finite,
    )


def first_stop(rules: StopRulesSpec, events: list[RunEvent]) -> tuple[int, str] | None:
    state = RuleState()
    for event in events:
        verdict = observe(rules, state, event)
        if verdict is not None:
            assert verdict.step is not None and verdict.rule is not None
            return verdict.step, verdict.rule
    return None


def rules(**fields: object) -> StopRulesSpec:
    return StopRulesSpec.model_validate(fields)


def test_loss_ceiling_names_rule_step_and_values() -> None:
    state = RuleState()
    spec = rules(lossCeiling=2.0)
    assert observe(spec, state, log(1, 1.5)) is None
    verdict = observe(spec, state, log(2, 2.5))
    assert verdict is not None
    assert (verdict.rule, verdict.step, verdict.values) == (
        "lossCeiling",
        2,
        {"loss": 2.5, "ceiling": 2.0},
    )
    assert "lossCeiling" in verdict.reason and "2.5" in verdict.reason


def test_no_rule_fires_before_min_step() -> None:
    events = [log(step, 9.0) for step in range(1, 30)]
    assert first_stop(rules(lossCeiling=2.0, minStep=10), events) == (10, "lossCeiling")


def test_non_finite_loss() -> None:
    events = [log(1, 1.0), log(2, float("nan")), log(3, 1.0)]
    assert first_stop(rules(nonFiniteLoss=True), events) == (2, "nonFiniteLoss")
    assert first_stop(rules(), events) is None


def test_rolling_mean_needs_a_full_window() -> None:
    events = [log(step, 5.0) for step in range(1, 4)]
    assert first_stop(rules(rollingMean={"window": 4, "ceiling": 3.0}), events) is None
    events.append(log(4, 5.0))
    assert first_stop(rules(rollingMean={"window": 4, "ceiling": 3.0}), events) == (
        4,
        "rollingMean",
    )


def test_patience_on_eval_loss_with_min_delta() -> None:
    evals = [1.0, 0.9, 0.895, 0.899, 0.898]
    events = [log(step * 10, 1.0, eval_loss) for step, eval_loss in enumerate(evals, start=1)]
    spec = rules(patience={"patience": 3, "minDelta": 0.01, "metric": "evalLoss"})
    # 0.9 improves by 0.1; 0.895, 0.899 and 0.898 do not beat 0.9 by more than 0.01.
    assert first_stop(spec, events) == (50, "patience")


def test_logs_without_the_metric_do_not_count_for_patience() -> None:
    events = [log(1, 1.0, 1.0), *[log(step, 1.0) for step in range(2, 50)]]
    assert first_stop(rules(patience={"patience": 1}), events) is None


def reference(spec: StopRulesSpec, losses: list[float | None], step: int) -> str | None:
    """Which rule holds at the log of ``step`` (1-based), computed from scratch."""
    seen = losses[:step]
    current = seen[-1]
    if step < spec.min_step:
        return None
    if spec.non_finite_loss and current is not None and not math.isfinite(current):
        return "nonFiniteLoss"
    ceiling = spec.loss_ceiling
    if ceiling is not None and current is not None and math.isfinite(current):
        if current > ceiling:
            return "lossCeiling"
    finite = [v for v in seen if v is not None and math.isfinite(v)]
    rolling = spec.rolling_mean
    if rolling is not None and len(finite) >= rolling.window:
        if sum(finite[-rolling.window :]) / rolling.window > rolling.ceiling:
            return "rollingMean"
    patience = spec.patience
    if patience is not None and finite:
        best, since = finite[0], 0
        for value in finite[1:]:
            if value < best - patience.min_delta:
                best, since = value, 0
            else:
                since += 1
        if since >= patience.patience:
            return "patience"
    return None


losses = st.one_of(
    st.floats(min_value=0.0, max_value=10.0),
    st.just(float("nan")),
    st.just(float("inf")),
)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(losses, min_size=1, max_size=60),
    min_step=st.integers(0, 20),
    ceiling=st.one_of(st.none(), st.floats(1.0, 9.0)),
    window=st.one_of(st.none(), st.integers(2, 8)),
    patience=st.one_of(st.none(), st.integers(1, 6)),
    non_finite=st.booleans(),
)
def test_first_stop_matches_a_from_scratch_reference(
    values: list[float],
    min_step: int,
    ceiling: float | None,
    window: int | None,
    patience: int | None,
    non_finite: bool,
) -> None:
    spec = rules(
        minStep=min_step,
        lossCeiling=ceiling,
        nonFiniteLoss=non_finite,
        rollingMean={"window": window, "ceiling": 5.0} if window else None,
        patience={"patience": patience, "minDelta": 0.05, "metric": "loss"} if patience else None,
    )
    events = [log(step, value) for step, value in enumerate(values, start=1)]
    expected = next(
        (
            (step, rule)
            for step in range(1, len(values) + 1)
            if (rule := reference(spec, list(values), step)) is not None
        ),
        None,
    )
    assert first_stop(spec, events) == expected
