"""Stop rules and deadlines on real runs: the right step, and the GPU job cancelled."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx

from arkor_temporal.client.runs import cancel_run, wait_for_result
from arkor_temporal.core.models import RunStatus, StopKind
from tests.support.backend import assert_backend_cancelled, emitted_events
from tests.support.replay import assert_replays
from tests.support.runs import Runs, make_spec


def first_log(inspect: httpx.Client, job_id: str, holds: Any) -> dict[str, Any]:
    """The first ``training.log`` the backend emitted for which ``holds(data)``."""
    logs = [e["data"] for e in emitted_events(inspect, job_id) if e["type"] == "training.log"]
    return next(data for data in logs if holds(data))


async def test_diverging_loss_stops_at_the_first_step_over_the_ceiling(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="ceiling",
        maxSteps=3000,
        backend={"emulator": {"scenario": "diverge", "atStep": 30}},
        stopRules={"lossCeiling": 3.0},
    )
    handle, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED
    stop = result.stop
    assert stop is not None and stop.kind is StopKind.STOP_RULE and stop.rule == "lossCeiling"
    assert result.job_id is not None
    expected = first_log(inspect, result.job_id, lambda d: (d.get("loss") or 0) > 3.0)
    assert stop.step == expected["step"]
    assert stop.values == {"loss": expected["loss"], "ceiling": 3.0}
    assert f"step {expected['step']}" in result.reason and "lossCeiling" in result.reason
    assert_backend_cancelled(inspect, result.job_id)
    await assert_replays(handle)


async def test_nan_loss_stops_at_the_first_nan_after_min_step(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="nan",
        maxSteps=3000,
        backend={"emulator": {"scenario": "nan", "atStep": 40}},
        stopRules={"nonFiniteLoss": True, "minStep": 61},
    )
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED and result.stop is not None
    assert result.job_id is not None
    first_nan = first_log(inspect, result.job_id, lambda d: d.get("nonFinite"))
    assert first_nan["step"] < 61, "the scenario goes non-finite before minStep"
    expected = first_log(inspect, result.job_id, lambda d: d.get("nonFinite") and d["step"] >= 61)
    assert (result.stop.rule, result.stop.step) == ("nonFiniteLoss", expected["step"])
    assert result.metrics.non_finite_losses >= 1
    assert all(math.isfinite(p.loss) for p in result.series if p.loss is not None)
    assert_backend_cancelled(inspect, result.job_id)


async def test_queue_deadline_stops_a_job_that_never_starts(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="stuck-in-queue",
        backend={"emulator": {"scenario": "queued", "queueSeconds": 3600}},
        deadlines={"maxQueued": "2s"},
    )
    handle, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED and result.stop is not None
    assert (result.stop.kind, result.stop.rule) == (StopKind.DEADLINE, "maxQueued")
    assert "did not start within 2s" in result.reason
    assert_backend_cancelled(inspect, result.job_id)
    await assert_replays(handle)


async def test_duration_deadline_stops_a_long_run(runs: Runs, inspect: httpx.Client) -> None:
    spec = make_spec(name="too-long", maxSteps=3000, deadlines={"maxDuration": 3})
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED and result.stop is not None
    assert result.stop.rule == "maxDuration"
    assert 0 < result.metrics.steps < 3000
    assert_backend_cancelled(inspect, result.job_id)


async def test_stop_rule_and_ops_cancel_at_once_give_one_outcome(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="race",
        maxSteps=3000,
        loggingSteps=1,
        backend={"emulator": {"scenario": "diverge", "atStep": 40}},
        stopRules={"lossCeiling": 3.0},
    )
    async with runs.training(spec, step=40) as handle:
        ack, result = await asyncio.gather(
            cancel_run(handle, "ops", "tester"), wait_for_result(handle)
        )
    assert ack is not None and result.stop is not None
    # Whichever came first is the outcome, its reason is the one recorded, and the
    # caller is told which: the cancel took effect, joined the stop, or came too late.
    if result.status is RunStatus.CANCELLED:
        assert (result.stop.kind, result.reason) == (StopKind.OPS_CANCEL, "ops")
        assert (ack.outcome, ack.backend_status) == ("cancelled", "cancelled")
    else:
        assert result.status is RunStatus.STOPPED and result.stop.rule == "lossCeiling"
        assert ack.outcome in ("already_requested", "already_finished")
        assert ack.reason == result.reason and ack.run_status == "stopped"
    assert_backend_cancelled(inspect, result.job_id)
