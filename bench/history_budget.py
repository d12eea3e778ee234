"""Workflow history events per 1,000 training steps and per simulated hour.

Real runs on the dev server and the emulator, at the default orchestration settings
except for the flush window, which is scaled with the time compression:

* the emulator trains at ``STEPS_PER_SECOND`` (20) steps/s and stands for a GPU at
  ``NOMINAL_STEPS_PER_SECOND`` (1) step/s, a compression of 20x;
* the default ``metricsFlushSeconds`` (30 s of wall time) becomes 30 / 20 = 1.5 s, so a
  batch spans the same number of steps as it would on the real GPU;
* events per simulated hour = events per 1,000 steps x 3.6 (3,600 steps an hour).

The per-1,000-steps figure is the steady-state rate, measured between the first and the
last relay signal (start-up and completion events excluded); the whole-run total is
reported too.

Baseline: the naive design that signals every stream event on its own. From the same
history, analytically: replace our S relay signals (4 events each: signaled + workflow
task scheduled/started/completed) by one 4-event group per relayed stream event
(training.started, every training.log, every checkpoint.saved). It is a lower bound for
that design: it keeps our search-attribute upserts and details as they are.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.runs import start_run
from arkor_temporal.core.spec import OrchestrationSpec
from arkor_temporal.worker import build_worker
from bench.common import BenchResult, Emulator, Row, Stack, emulator, run_spec, task_queue

NAME = "history_budget"
STEPS_PER_SECOND = 20.0
NOMINAL_STEPS_PER_SECOND = 1.0
DEFAULT_FLUSH_SECONDS = OrchestrationSpec().metrics_flush_seconds
MAX_STEPS = 600
SAVE_STEPS = 100
FLUSH_SECONDS = DEFAULT_FLUSH_SECONDS * NOMINAL_STEPS_PER_SECOND / STEPS_PER_SECOND
STEPS_PER_HOUR = 3600 * NOMINAL_STEPS_PER_SECOND
RELAYED_TYPES = ("training.started", "training.log", "checkpoint.saved")
CONFIGS = {"typical": 10, "dense": 1}  # label -> loggingSteps
EVENTS_PER_SIGNAL = 4
SUGGEST_CONTINUE_AS_NEW = 4096  # Temporal's default history length suggesting continue-as-new
SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED


@dataclass
class Measured:
    label: str
    logging_steps: int
    total_events: int
    signals: int
    relayed_stream_events: int
    log_events: int
    steady_events: int
    steady_steps: int

    @property
    def per_1000_steps(self) -> float:
        return 1000 * self.steady_events / self.steady_steps

    @property
    def naive_per_1000_steps(self) -> float:
        # Over the same window: every training.log and checkpoint.saved is its own signal.
        per_step = 1 / self.logging_steps + 1 / SAVE_STEPS
        return 1000 * EVENTS_PER_SIGNAL * per_step

    @property
    def naive_total(self) -> int:
        return (
            self.total_events
            - EVENTS_PER_SIGNAL * self.signals
            + EVENTS_PER_SIGNAL * self.relayed_stream_events
        )


def batch_step(event: HistoryEvent) -> int | None:
    """The highest training step in a relay signal's batch (None for a batch without one)."""
    payloads = event.workflow_execution_signaled_event_attributes.input.payloads
    batch: dict[str, Any] = json.loads(payloads[0].data)
    steps = [e["step"] for e in batch["events"] if e.get("step") is not None]
    return max(steps) if steps else None


async def one_run(
    client: Client, emu: Emulator, queue: str, label: str, logging_steps: int
) -> Measured:
    spec = run_spec(
        name=f"bench-history-{label}",
        maxSteps=MAX_STEPS,
        loggingSteps=logging_steps,
        saveSteps=SAVE_STEPS,
        orchestration={"metricsFlushSeconds": FLUSH_SECONDS},
    )
    handle = await start_run(
        client, spec, task_queue=queue, workflow_id=f"bench-{label}-{uuid.uuid4().hex[:8]}"
    )
    result = await handle.result()
    history = list((await handle.fetch_history()).events)
    signals = [(i, batch_step(e)) for i, e in enumerate(history) if e.event_type == SIGNALED]
    stepped = [(i, step) for i, step in signals if step is not None]
    (first_index, first_step), (last_index, last_step) = stepped[0], stepped[-1]
    if result.job_id is None:
        raise RuntimeError(f"run {label} ended without a job")
    stream = [event["type"] for event in await emu.events(result.job_id)]
    return Measured(
        label=label,
        logging_steps=logging_steps,
        total_events=len(history),
        signals=len(signals),
        relayed_stream_events=sum(1 for t in stream if t in RELAYED_TYPES),
        log_events=stream.count("training.log"),
        steady_events=last_index - first_index,
        steady_steps=last_step - first_step,
    )


async def run(stack: Stack) -> BenchResult:
    client = await stack.client()
    queue = task_queue(NAME)
    async with emulator(steps_per_second=STEPS_PER_SECOND) as emu:
        worker = build_worker(client, CloudContext(emu.settings), task_queue=queue)
        async with worker:
            # Both runs at once: the same 30 s of wall time measures both configurations.
            measured = await asyncio.gather(
                *(
                    one_run(client, emu, queue, label, logging_steps)
                    for label, logging_steps in CONFIGS.items()
                )
            )
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    for m in measured:
        tag = f"[{m.label}: loggingSteps {m.logging_steps}, saveSteps {SAVE_STEPS}]"
        per_hour = m.per_1000_steps * STEPS_PER_HOUR / 1000
        naive_per_hour = m.naive_per_1000_steps * STEPS_PER_HOUR / 1000
        rows += [
            Row(
                f"history events / 1,000 steps {tag}",
                m.per_1000_steps,
                "events",
                "naive: 1 signal per event",
                m.naive_per_1000_steps,
                "ours/naive",
            ),
            Row(
                f"history events / simulated hour {tag}",
                per_hour,
                "events",
                "naive: 1 signal per event",
                naive_per_hour,
                "ours/naive",
            ),
            Row(
                f"whole run, {MAX_STEPS} steps {tag}",
                m.total_events,
                "events",
                "naive: 1 signal per event",
                m.naive_total,
                "ours/naive",
            ),
        ]
        extra[m.label] = {
            "loggingSteps": m.logging_steps,
            "historyEvents": m.total_events,
            "relaySignals": m.signals,
            "trainingLogEvents": m.log_events,
            "relayedStreamEvents": m.relayed_stream_events,
            "steadyStateWindow": f"{m.steady_events} events over {m.steady_steps} steps",
            "naiveTotal": m.naive_total,
            "simulatedHoursUntil4096Events": round(SUGGEST_CONTINUE_AS_NEW / per_hour, 1),
            "naiveSimulatedHoursUntil4096Events": round(
                SUGGEST_CONTINUE_AS_NEW / naive_per_hour, 1
            ),
        }
    return BenchResult(
        name=NAME,
        config={
            "maxSteps": MAX_STEPS,
            "saveSteps": SAVE_STEPS,
            "loggingSteps": dict(CONFIGS),
            "emulatorStepsPerSecond": STEPS_PER_SECOND,
            "nominalGpuStepsPerSecond": NOMINAL_STEPS_PER_SECOND,
            "metricsFlushSeconds": f"{DEFAULT_FLUSH_SECONDS} (default) scaled to {FLUSH_SECONDS}",
            "otherOrchestration": "defaults",
        },
        rows=rows,
        extra=extra,
        notes=[
            f"Emulator at {STEPS_PER_SECOND:g} steps/s stands for a GPU at "
            f"{NOMINAL_STEPS_PER_SECOND:g} step/s; the default {DEFAULT_FLUSH_SECONDS:g} s flush "
            f"window is scaled to {FLUSH_SECONDS:g} s; per hour = per 1,000 steps x "
            f"{STEPS_PER_HOUR / 1000:g}. Naive = 4 history events per relayed stream event.",
        ],
    )
