"""The per-job training simulation, one asyncio task per job.

Time is compressed: one training step takes ``1 / steps_per_second`` seconds
(``slowFactor`` times longer from ``atStep`` in the ``slow`` scenario). Steps
are scheduled against absolute deadlines so that a busy loop does not make a
run drift slower and slower.
"""

from __future__ import annotations

import asyncio
from statistics import fmean

from arkor_temporal.emulator.curves import MetricCurves
from arkor_temporal.emulator.store import Job, Store
from arkor_temporal.emulator.training_logs import (
    MetricGroup,
    finite_or_none,
    step_logs,
    summary_log,
)

FINAL_ARTIFACTS = [
    {"pathname": "adapter/adapter_model.safetensors"},
    {"pathname": "adapter/adapter_config.json"},
]
# Non-ASCII on purpose: the stream then carries multi-byte UTF-8 that writes can cut into.
GPU_NAME = "NVIDIA L4 \u2014 emulated \u00b7 24 GB"


def start_simulation(store: Store, job: Job) -> None:
    job.task = asyncio.get_running_loop().create_task(
        _simulate(store, job), name=f"emulator-job-{job.id}"
    )


def resume_simulations(store: Store) -> None:
    """Carry on the queued and running jobs a state file brought back."""
    for job in store.jobs.values():
        if not job.terminal and job.task is None:
            start_simulation(store, job)


async def _simulate(store: Store, job: Job) -> None:
    plan = job.plan
    curves = MetricCurves(plan, job.seed)
    loop = asyncio.get_running_loop()
    resumed_after = job.current_step  # nonzero for a job resumed from the state file
    if job.status == "queued":
        await asyncio.sleep(plan.queue_seconds)
        metadata = {"gpu": "emulated-L4", "gpuName": GPU_NAME, "totalSteps": plan.total_steps}
        store.mark_running(job, metadata)
    started = loop.time()
    interval = 1.0 / store.config.steps_per_second
    deadline = started
    train_losses: list[float] = []  # the logged ones, in step order
    for step in range(1, plan.total_steps + 1):
        if step <= resumed_after:
            # Redraw the steps already run so the metric curves carry on where they were.
            train_losses += [g["loss"] for g in _measure(curves, job, step) if "loss" in g]
            continue
        slow = plan.after_scenario_start(step, "slow")
        deadline += interval * (plan.slow_factor if slow else 1.0)
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        job.current_step = step
        if plan.after_scenario_start(step, "fail"):
            store.fail(job, plan.error, step)
            return
        groups = _measure(curves, job, step)
        train_losses += [group["loss"] for group in groups if "loss" in group]
        for log in step_logs(step, curves.epoch(step), groups, plan.logging):
            store.append_event(job, "training.log", **log)
        if plan.is_save_step(step):
            job.saved_steps.add(step)
            artifact = {"pathname": f"checkpoints/step-{step}/adapter_model.safetensors"}
            store.append_event(job, "checkpoint.saved", step=step, artifacts=[artifact])
    # A NaN anywhere makes the mean NaN, as the Trainer's running total does.
    mean_loss = fmean(train_losses) if train_losses else None
    if plan.logging == "huggingface":
        store.append_event(job, "training.log", **summary_log(plan.total_steps, mean_loss))
    runtime = round(loop.time() - started, 3)
    final_loss = finite_or_none(train_losses[-1]) if train_losses else None
    metrics = {
        "trainLoss": None if mean_loss is None else finite_or_none(mean_loss),
        "steps": plan.total_steps,
        "runtimeSeconds": runtime,
        # PR #210's keys (docs/protocol.md §14.13); the older three stay for existing readers.
        "finalLoss": final_loss,
        "totalSteps": plan.total_steps,
        "totalTime": runtime,
    }
    store.complete(job, metrics, FINAL_ARTIFACTS)


def _measure(curves: MetricCurves, job: Job, step: int) -> list[MetricGroup]:
    """The step's raw metric groups, train first (the draw order keeps a seed's numbers)."""
    plan = job.plan
    groups: list[MetricGroup] = []
    if plan.is_log_step(step):
        loss = curves.train_loss(step)
        rate, throughput = curves.learning_rate(step), curves.samples_per_second()
        groups.append({"loss": loss, "learningRate": rate, "samplesPerSecond": throughput})
    if plan.is_eval_step(step):
        groups.append({"evalLoss": curves.eval_loss(step)})
    return groups
