"""The per-job training simulation, one asyncio task per job.

Time is compressed: one training step takes ``1 / steps_per_second`` seconds
(``slowFactor`` times longer from ``atStep`` in the ``slow`` scenario). Steps
are scheduled against absolute deadlines so that a busy loop does not make a
run drift slower and slower.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from arkor_temporal.emulator.curves import MetricCurves
from arkor_temporal.emulator.store import Job, Store

FINAL_ARTIFACTS = [
    {"pathname": "adapter/adapter_model.safetensors"},
    {"pathname": "adapter/adapter_config.json"},
]


def start_simulation(store: Store, job: Job) -> None:
    job.task = asyncio.get_running_loop().create_task(
        _simulate(store, job), name=f"emulator-job-{job.id}"
    )


def finite_or_none(value: float) -> float | None:
    """The wire type of a metric is ``number | null``; NaN and inf become ``null``."""
    return value if math.isfinite(value) else None


async def _simulate(store: Store, job: Job) -> None:
    plan = job.plan
    curves = MetricCurves(plan, job.seed)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(plan.queue_seconds)
    started = loop.time()
    store.mark_running(job, {"gpu": "emulated-L4", "totalSteps": plan.total_steps})
    interval = 1.0 / store.config.steps_per_second
    deadline = started
    losses: list[float] = []
    for step in range(1, plan.total_steps + 1):
        slow = plan.after_scenario_start(step, "slow")
        deadline += interval * (plan.slow_factor if slow else 1.0)
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        job.current_step = step
        if plan.after_scenario_start(step, "fail"):
            store.fail(job, plan.error, step)
            return
        log = _log_fields(curves, job, step)
        if log is not None:
            store.append_event(job, "training.log", **log)
            if isinstance(log.get("loss"), float):
                losses.append(log["loss"])
        if plan.is_save_step(step):
            job.saved_steps.add(step)
            artifact = {"pathname": f"checkpoints/step-{step}/adapter_model.safetensors"}
            store.append_event(job, "checkpoint.saved", step=step, artifacts=[artifact])
    metrics = {
        "trainLoss": sum(losses) / len(losses) if losses else None,
        "steps": plan.total_steps,
        "runtimeSeconds": round(loop.time() - started, 3),
    }
    store.complete(job, metrics, FINAL_ARTIFACTS)


def _log_fields(curves: MetricCurves, job: Job, step: int) -> dict[str, Any] | None:
    """At most one ``training.log`` per step: train metrics, eval loss, or both.

    A non-finite loss (``nan`` scenario) is sent as ``null`` with
    ``"nonFinite": "nan"`` so that the JSON stays valid and the cause visible.
    """
    plan = job.plan
    is_log, is_eval = plan.is_log_step(step), plan.is_eval_step(step)
    if not (is_log or is_eval):
        return None
    fields: dict[str, Any] = {"step": step, "epoch": curves.epoch(step)}
    raw: list[float] = []
    if is_log:
        loss = curves.train_loss(step)
        raw.append(loss)
        fields["loss"] = finite_or_none(loss)
        fields["learningRate"] = curves.learning_rate(step)
        fields["samplesPerSecond"] = curves.samples_per_second()
    if is_eval:
        eval_loss = curves.eval_loss(step)
        raw.append(eval_loss)
        fields["evalLoss"] = finite_or_none(eval_loss)
    if any(math.isnan(v) for v in raw):
        fields["nonFinite"] = "nan"
    return fields
