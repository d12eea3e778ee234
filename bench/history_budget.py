"""Workflow history events per simulated training hour, and how stale the live view is.

Real runs on the dev server and the emulator, at the default orchestration settings
except for the flush window, which is scaled with the time compression:

* the emulator trains at ``STEPS_PER_SECOND`` (60) steps/s and stands for a GPU at
  ``NOMINAL_STEPS_PER_SECOND`` (1) step/s, a compression of 60x: one simulated hour
  (3,600 steps) is a minute of wall time, and each run trains exactly one;
* the default ``metricsFlushSeconds`` (600 s of wall time) becomes 600 / 60 = 10 s, so a
  batch spans the same number of steps as it would on the real GPU;
* everything else is left at its default; heartbeats are wall-clock (the worker sends a
  stream's details at most every 10 s), so they are not compressed.

Three runs, at once: *typical* (loggingSteps 10, saveSteps 100, no evaluations: nothing
is urgent after ``training.started``), *dense* (loggingSteps 1) and *with evals* (an
``evals:`` suite: every checkpoint is relayed at once and evaluated, which is what a
decision costs). Events per simulated hour are reported two ways: the whole run (one
simulated hour, start-up and completion included) and the steady-state rate between the
first and the last relay signal that carries a step.

Baseline: the naive design that signals every stream event on its own. From the same
history, analytically: replace our S relay signals (4 events each: signaled + workflow
task scheduled/started/completed) by one 4-event group per relayed stream event
(training.started, every training.log, every checkpoint.saved). It is a lower bound for
that design: it keeps our search-attribute upserts and evaluation activities as they are.

Live view: while *typical* trains, ``describe_run`` is polled every ``POLL_SECONDS`` (its
``live`` comes from the stream activity's heartbeat details). Staleness at a poll sent at
wall time T is the age of the oldest ``training.log`` the emulator had emitted by T that
the live view does not show yet (0 when it shows the latest), in wall seconds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.runs import RunHandle, describe_run, start_run
from arkor_temporal.core.spec import OrchestrationSpec
from arkor_temporal.worker import LIVE_VIEW_INTERVAL, build_worker
from bench.common import BenchResult, Emulator, Row, Stack, emulator, median, run_spec, task_queue

NAME = "history_budget"
STEPS_PER_SECOND = 60.0
NOMINAL_STEPS_PER_SECOND = 1.0
COMPRESSION = STEPS_PER_SECOND / NOMINAL_STEPS_PER_SECOND
DEFAULT_FLUSH_SECONDS = OrchestrationSpec().metrics_flush_seconds
FLUSH_SECONDS = DEFAULT_FLUSH_SECONDS / COMPRESSION
STEPS_PER_HOUR = 3600 * NOMINAL_STEPS_PER_SECOND
MAX_STEPS = int(STEPS_PER_HOUR)  # one simulated hour
SAVE_STEPS = 100
RELAYED_TYPES = ("training.started", "training.log", "checkpoint.saved")
EVENTS_PER_SIGNAL = 4
SUGGEST_CONTINUE_AS_NEW = 4096  # Temporal's default history length suggesting continue-as-new
SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
BUDGET_PER_HOUR = 100  # the bar at default settings
STALENESS_BAR = 15.0  # wall seconds, the bar for the live view
POLL_SECONDS = 0.5
LIVE_RUN = "typical"
# Two cases of examples/evaluated.yaml the emulator's inference answers.
EVAL_SUITE: dict[str, Any] = {
    "cases": [
        {
            "name": "refund-category",
            "messages": [
                {
                    "role": "user",
                    "content": "I was charged twice for my subscription this month. "
                    "Please refund the duplicate payment.",
                }
            ],
            "maxTokens": 32,
            "temperature": 0,
            "expect": {"type": "contains", "values": ["billing"], "caseSensitive": False},
        },
        {
            "name": "priority-format",
            "messages": [
                {"role": "user", "content": "How do I change the email address on my account?"}
            ],
            "expect": {"type": "regex", "pattern": r"Priority: (low|medium|high|urgent)\.$"},
        },
    ]
}


@dataclass(frozen=True)
class Config:
    label: str
    logging_steps: int
    evals: bool = False

    @property
    def tag(self) -> str:
        evals = ", evals on every checkpoint" if self.evals else ""
        return f"[{self.label}: loggingSteps {self.logging_steps}, saveSteps {SAVE_STEPS}{evals}]"


CONFIGS = (
    Config("typical", logging_steps=10),
    Config("dense", logging_steps=1),
    Config("with evals", logging_steps=10, evals=True),
)


@dataclass
class Measured:
    config: Config
    total_events: int
    signals: int
    relayed_stream_events: int
    log_events: int
    steady_events: int
    steady_signals: int
    steady_steps: int
    evaluations: int
    by_type: dict[str, int]
    steady_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def whole_run_per_hour(self) -> float:
        return self.total_events * STEPS_PER_HOUR / MAX_STEPS

    @property
    def steady_per_hour(self) -> float:
        return self.steady_events * STEPS_PER_HOUR / self.steady_steps

    @property
    def naive_steady_per_hour(self) -> float:
        # Over the same window: our events less our signals, plus one signal per
        # training.log and checkpoint.saved the window's steps emit.
        ours_other = self.steady_events - EVENTS_PER_SIGNAL * self.steady_signals
        per_step = 1 / self.config.logging_steps + 1 / SAVE_STEPS
        return STEPS_PER_HOUR * (ours_other / self.steady_steps + EVENTS_PER_SIGNAL * per_step)

    @property
    def naive_total(self) -> int:
        return (
            self.total_events
            - EVENTS_PER_SIGNAL * self.signals
            + EVENTS_PER_SIGNAL * self.relayed_stream_events
        )


@dataclass
class Staleness:
    samples: list[float] = field(default_factory=list)  # wall seconds
    step_lags: list[int] = field(default_factory=list)
    polls: int = 0
    without_live: int = 0  # polls while training with no live progress yet
    poll_seconds: list[float] = field(default_factory=list)  # how long a describe took


def batch_step(event: HistoryEvent) -> int | None:
    """The highest training step in a relay signal's batch (None for a batch without one)."""
    payloads = event.workflow_execution_signaled_event_attributes.input.payloads
    batch: dict[str, Any] = json.loads(payloads[0].data)
    steps = [e["step"] for e in batch["events"] if e.get("step") is not None]
    return max(steps) if steps else None


def type_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def watch_live(handle: RunHandle, emu: Emulator, staleness: Staleness) -> None:
    """Sample the live view's staleness until the run ends."""
    job_id: str | None = None
    while True:
        sent = time.time()
        started = time.monotonic()
        info = await describe_run(handle)
        staleness.poll_seconds.append(time.monotonic() - started)
        if info.result is not None or not info.run.running:
            return
        if job_id is None and info.status is not None:
            job_id = info.status.job_id
        if job_id is not None:
            staleness.polls += 1
            events = await emu.events(job_id)
            if any(e["type"] in ("training.completed", "training.failed") for e in events):
                return  # the stream is over: nothing live to show
            logs = [
                (_epoch(e["data"]["timestamp"]), int(e["data"]["step"]))
                for e in events
                if e["type"] == "training.log" and e["data"].get("step") is not None
            ]
            emitted = [(at, step) for at, step in logs if at <= sent]
            if emitted:  # something to show
                shown = info.live.step if info.live is not None else 0
                if info.live is None:
                    staleness.without_live += 1
                unseen = [at for at, step in emitted if step > shown]
                staleness.samples.append(sent - min(unseen) if unseen else 0.0)
                staleness.step_lags.append(max(step for _, step in emitted) - shown)
        await asyncio.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - started)))


async def one_run(
    client: Client,
    emu: Emulator,
    queue: str,
    config: Config,
    staleness: Staleness | None,
) -> Measured:
    spec = run_spec(
        name=f"bench-history-{config.label.replace(' ', '-')}",
        maxSteps=MAX_STEPS,
        loggingSteps=config.logging_steps,
        saveSteps=SAVE_STEPS,
        orchestration={"metricsFlushSeconds": FLUSH_SECONDS},
        **({"evals": EVAL_SUITE} if config.evals else {}),
    )
    workflow_id = f"bench-{config.label.replace(' ', '-')}-{uuid.uuid4().hex[:8]}"
    handle = await start_run(client, spec, task_queue=queue, workflow_id=workflow_id)
    if staleness is not None:
        await watch_live(handle, emu, staleness)
    result = await handle.result()
    history = list((await handle.fetch_history()).events)
    signals = [(i, batch_step(e)) for i, e in enumerate(history) if e.event_type == SIGNALED]
    stepped = [(i, step) for i, step in signals if step is not None]
    (first_index, first_step), (last_index, last_step) = stepped[0], stepped[-1]
    if result.job_id is None:
        raise RuntimeError(f"run {config.label} ended without a job")
    stream = [event["type"] for event in await emu.events(result.job_id)]
    window = history[first_index + 1 : last_index + 1]
    return Measured(
        config=config,
        total_events=len(history),
        signals=len(signals),
        relayed_stream_events=sum(1 for t in stream if t in RELAYED_TYPES),
        log_events=stream.count("training.log"),
        steady_events=last_index - first_index,
        steady_signals=sum(1 for e in window if e.event_type == SIGNALED),
        steady_steps=last_step - first_step,
        evaluations=len(result.evals),
        by_type=dict(Counter(type_name(e) for e in history).most_common()),
        steady_by_type=dict(Counter(type_name(e) for e in window).most_common()),
    )


async def run(stack: Stack) -> BenchResult:
    client = await stack.client()
    queue = task_queue(NAME)
    staleness = Staleness()
    async with emulator(steps_per_second=STEPS_PER_SECOND) as emu:
        worker = build_worker(client, CloudContext(emu.settings), task_queue=queue)
        async with worker:
            # All at once: the same minute of wall time measures every configuration.
            measured = await asyncio.gather(
                *(
                    one_run(
                        client, emu, queue, config, staleness if config.label == LIVE_RUN else None
                    )
                    for config in CONFIGS
                )
            )
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    for m in measured:
        tag = m.config.tag
        rows += [
            Row(
                f"history events, whole run = 1 simulated hour {tag}",
                m.whole_run_per_hour,
                "events/h",
                "naive: 1 signal per event",
                m.naive_total * STEPS_PER_HOUR / MAX_STEPS,
                "ours/naive",
            ),
            Row(
                f"history events / simulated hour, steady state {tag}",
                m.steady_per_hour,
                "events/h",
                "naive: 1 signal per event",
                m.naive_steady_per_hour,
                "ours/naive",
            ),
            Row(
                f"history events, whole run {tag}",
                m.whole_run_per_hour,
                "events/h",
                "budget: 100 / hour",
                BUDGET_PER_HOUR,
                "ours/budget",
            ),
        ]
        extra[m.config.label] = {
            "loggingSteps": m.config.logging_steps,
            "historyEvents": m.total_events,
            "relaySignals": m.signals,
            "evaluations": m.evaluations,
            "trainingLogEvents": m.log_events,
            "relayedStreamEvents": m.relayed_stream_events,
            "steadyStateWindow": (
                f"{m.steady_events} events ({m.steady_signals} signals) over {m.steady_steps} steps"
            ),
            "steadyEventsByType": m.steady_by_type,
            "eventsByType": m.by_type,
            "naiveTotal": m.naive_total,
            "simulatedHoursUntil4096Events": round(SUGGEST_CONTINUE_AS_NEW / m.steady_per_hour, 1),
            "naiveSimulatedHoursUntil4096Events": round(
                SUGGEST_CONTINUE_AS_NEW / m.naive_steady_per_hour, 1
            ),
        }
    lags = staleness.samples
    rows += [
        Row(
            f"live view staleness p50 [{LIVE_RUN}, describe_run every {POLL_SECONDS:g} s]",
            median(lags),
            "s (wall)",
            "bar: 15 s",
            STALENESS_BAR,
            "ours/bar",
            samples=[round(v, 3) for v in lags],
        ),
        Row(
            f"live view staleness p95 [{LIVE_RUN}, describe_run every {POLL_SECONDS:g} s]",
            p95(lags),
            "s (wall)",
            "bar: 15 s",
            STALENESS_BAR,
            "ours/bar",
        ),
        Row(
            f"live view staleness max [{LIVE_RUN}, {len(lags)} polls]",
            max(lags, default=float("nan")),
            "s (wall)",
            "heartbeat throttle (worker)",
            LIVE_VIEW_INTERVAL.total_seconds(),
            "ours/throttle",
        ),
    ]
    extra["live view"] = {
        "samples": len(lags),
        "pollsWithoutLiveProgress": staleness.without_live,
        "stepLagP50": median([float(s) for s in staleness.step_lags]),
        "stepLagP95": round(p95([float(s) for s in staleness.step_lags]), 1),
        "describeRunSecondsMedian": round(median(staleness.poll_seconds), 3),
    }
    over = [m.config.label for m in measured if m.whole_run_per_hour > BUDGET_PER_HOUR]
    return BenchResult(
        name=NAME,
        config={
            "maxSteps": MAX_STEPS,
            "saveSteps": SAVE_STEPS,
            "runs": [vars(c) for c in CONFIGS],
            "emulatorStepsPerSecond": STEPS_PER_SECOND,
            "nominalGpuStepsPerSecond": NOMINAL_STEPS_PER_SECOND,
            "metricsFlushSeconds": f"{DEFAULT_FLUSH_SECONDS:g} (default) scaled to "
            f"{FLUSH_SECONDS:g}",
            "otherOrchestration": "defaults",
            "liveViewPollSeconds": POLL_SECONDS,
        },
        rows=rows,
        extra=extra,
        notes=[
            f"Emulator at {STEPS_PER_SECOND:g} steps/s stands for a GPU at "
            f"{NOMINAL_STEPS_PER_SECOND:g} step/s; the default {DEFAULT_FLUSH_SECONDS:g} s "
            f"flush window is scaled to {FLUSH_SECONDS:g} s; each run is {MAX_STEPS} steps, "
            "one simulated hour. Naive = 4 history events per relayed stream event (our "
            "other events kept).",
            f"Budget (the issue): <= {BUDGET_PER_HOUR} history events per training hour at "
            f"default settings; over it: {', '.join(over) if over else 'none'} (evaluations "
            "are decisions, each costs its relay, activity and workflow tasks).",
            f"Live view bar: <= {STALENESS_BAR:g} s stale, in wall seconds (the heartbeat "
            f"throttle, {LIVE_VIEW_INTERVAL.total_seconds():g} s, is not compressed).",
        ],
    )
