"""Stop rules: pure, deterministic verdicts over the logged metrics.

:func:`observe` is called once per applied ``training.log`` event, in stream
order, by the workflow (authoritative) and by the stream activity (only to
relay a triggering event at once). Observations before ``minStep`` still feed
the rules' memory (the rolling window, the best value); no rule fires before it.
"""

from __future__ import annotations

import math

from arkor_temporal.core.models import EventType, RuleState, RunEvent, StopDecision, StopKind
from arkor_temporal.core.spec import StopRulesSpec


def _metric(event: RunEvent, name: str) -> float | None:
    value = event.loss if name == "loss" else event.eval_loss
    return value if value is not None and math.isfinite(value) else None


def _remember(rules: StopRulesSpec, state: RuleState, event: RunEvent) -> None:
    if rules.rolling_mean is not None:
        value = _metric(event, rules.rolling_mean.metric)
        if value is not None:
            state.window = [*state.window, value][-rules.rolling_mean.window :]
    if rules.patience is not None:
        value = _metric(event, rules.patience.metric)
        if value is not None:
            if state.best is None or value < state.best - rules.patience.min_delta:
                state.best, state.since_best = value, 0
            else:
                state.since_best += 1


def observe(rules: StopRulesSpec, state: RuleState, event: RunEvent) -> StopDecision | None:
    """Update ``state`` with ``event`` and return a stop decision if a rule now holds."""
    if event.type != EventType.LOG or event.step is None:
        return None
    _remember(rules, state, event)
    step = event.step
    if step < rules.min_step:
        return None

    def stop(rule: str, reason: str, **values: float | None) -> StopDecision:
        return _decision(rule, f"step {step}", step, reason, values)

    if rules.non_finite_loss and event.non_finite_loss:
        return stop("nonFiniteLoss", "the loss is not a finite number", loss=None)
    loss = _metric(event, "loss")
    if rules.loss_ceiling is not None and loss is not None and loss > rules.loss_ceiling:
        return stop(
            "lossCeiling",
            f"loss {loss:.4g} > ceiling {rules.loss_ceiling:g}",
            loss=loss,
            ceiling=rules.loss_ceiling,
        )
    rolling = rules.rolling_mean
    if rolling is not None and len(state.window) == rolling.window:
        mean = sum(state.window) / rolling.window
        if mean > rolling.ceiling:
            return stop(
                "rollingMean",
                f"mean {rolling.metric} over the last {rolling.window} logs {mean:.4g} > "
                f"ceiling {rolling.ceiling:g}",
                mean=mean,
                ceiling=rolling.ceiling,
            )
    patience = rules.patience
    if patience is not None and state.since_best >= patience.patience:
        return stop(
            "patience",
            f"{patience.metric} has not improved on {state.best:.4g} by more than "
            f"{patience.min_delta:g} for {state.since_best} observations",
            best=state.best,
            observations=float(state.since_best),
        )
    return None


def observe_evals(rules: StopRulesSpec, scores: list[tuple[int, float]]) -> StopDecision | None:
    """The eval rule that holds first, by checkpoint step, over ``(step, score)`` pairs.

    Evaluations finish out of order, so this looks at the whole sorted series each
    time one lands; errored evaluations are left out by the caller.
    """
    best: float | None = None
    since_best = 0
    for step, score in sorted(scores):
        below = rules.eval_score_below
        if below is not None and step >= below.after_step and score < below.threshold:
            return _eval_stop(
                "evalScoreBelow",
                step,
                f"eval score {score:.3f} < threshold {below.threshold:g}",
                score=score,
                threshold=below.threshold,
            )
        if best is not None and rules.eval_drop is not None and score < best - rules.eval_drop:
            return _eval_stop(
                "evalDrop",
                step,
                f"eval score {score:.3f} fell more than {rules.eval_drop:g} below the best "
                f"{best:.3f}",
                score=score,
                best=best,
            )
        if best is None or score > best:
            best, since_best = score, 0
        else:
            since_best += 1
        if rules.eval_patience is not None and since_best >= rules.eval_patience:
            return _eval_stop(
                "evalPatience",
                step,
                f"no better eval score than {best:.3f} for {since_best} checkpoints",
                best=best,
                checkpoints=float(since_best),
            )
    return None


def _eval_stop(rule: str, step: int, reason: str, **values: float | None) -> StopDecision:
    return _decision(rule, f"checkpoint {step}", step, reason, values)


def _decision(
    rule: str, where: str, step: int, reason: str, values: dict[str, float | None]
) -> StopDecision:
    return StopDecision(
        kind=StopKind.STOP_RULE,
        reason=f"stop rule {rule} at {where}: {reason}",
        requested_by="stop-rules",
        rule=rule,
        step=step,
        values=values,
    )
