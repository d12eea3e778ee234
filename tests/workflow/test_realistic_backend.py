"""Runs against the emulator's realistic defaults: HF-style logs, opaque unordered ids.

HuggingFace's Trainer logs train and eval metrics as two ``training.log`` events at
one step (``loss`` null on the eval one) and a summary log at the end; ids say
nothing of order. Every emitted event must be applied once, and a stop rule on
``evalLoss`` must fire exactly where the emitted sequence says it should.
"""

from __future__ import annotations

from typing import Any

import httpx

from arkor_temporal.core.models import RuleState, RunEvent, RunStatus
from arkor_temporal.core.stop_rules import observe
from tests.support.backend import assert_completed_exactly_once, emitted_events
from tests.support.replay import assert_replays
from tests.support.runs import Runs, make_spec


def as_log(event: dict[str, Any]) -> RunEvent:
    data = event["data"]
    return RunEvent(
        event_id=event["id"],
        type="training.log",
        step=data["step"],
        loss=data.get("loss"),
        eval_loss=data.get("evalLoss"),
    )


async def test_every_hf_style_event_is_applied_once(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(name="hf-logs", maxSteps=60, loggingSteps=5, evalSteps=10, saveSteps=20)
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    logs = [e for e in emitted_events(inspect, result.job_id or "") if e["type"] == "training.log"]
    steps = [e["data"]["step"] for e in logs]
    assert len(steps) > len(set(steps)), "the emulator shares steps between logs by default"
    assert result.metrics.last_eval_loss is not None
    assert any(point.eval_loss is not None for point in result.series)
    await assert_replays(handle)


async def test_an_eval_loss_patience_rule_fires_where_the_emitted_logs_say(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="hf-patience",
        maxSteps=400,
        loggingSteps=5,
        evalSteps=10,
        saveSteps=100,
        backend={"emulator": {"scenario": "diverge", "atStep": 60}},
        stopRules={"patience": {"patience": 3, "minDelta": 0.0, "metric": "evalLoss"}},
    )
    handle, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED, result.reason
    assert result.stop is not None and result.stop.rule == "patience"
    # The reference: the same rule over the emitted logs, in stream order.
    assert spec.stop_rules is not None
    state, expected = RuleState(), None
    for event in emitted_events(inspect, result.job_id or ""):
        if event["type"] == "training.log" and expected is None:
            decision = observe(spec.stop_rules, state, as_log(event))
            expected = decision.step if decision else None
    assert expected is not None and result.stop.step == expected
    await assert_replays(handle)
