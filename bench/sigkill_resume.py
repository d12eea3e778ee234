"""Time from losing the worker that holds a job's stream to the stream resuming elsewhere,
for the same stream handed over again and again.

One run per chain; the chain hands that run's stream over ``HAND_OVERS`` times in a row,
by SIGKILL (a crash: detected at the heartbeat timeout) or by SIGTERM (a graceful
shutdown: the stream activity raises ``WorkerShutdown`` at once, asking for a 100 ms
retry). Each hand-over:

1. starts a standby worker subprocess (``python -m arkor_temporal.worker``, the worker's
   default sticky timeout) and waits until it polls, so its Python start-up is not part
   of the measurement; the holder (the worker the stream activity runs on, by the pending
   activity's worker identity) and the standby are the only live workers;
2. signals the holder and measures
   * *stream reopened*: until the emulator counts a new stream open for the job
     (``streamOpens`` of ``GET /_emulator/jobs``), and
   * *step advances*: until the workflow has applied a step beyond the last one the
     emulator had emitted at the kill (only the new attempt can relay those events): the
     server's time of the workflow task completed after the first such batch the new
     attempt signalled, from the run's history (the server runs on this machine, so its
     clock is ours). This includes the run's next workflow task reaching a live worker:
     about the reopen time when the run was cached on another worker, plus the sticky
     timeout when it was cached on the killed one, plus the workflow task timeout (10 s)
     when the kill caught a workflow task in flight (the workflow task timeouts seen are
     listed per hand-over under the table). The bench waits for the ``status`` query to
     show the step before the next hand-over (that time is listed too, but a query sent
     to a dead worker's sticky queue waits out its own timeout: not the measurement);
3. waits for the old holder to exit; the standby holds the stream for the next hand-over.

Before the stream retry policy was flat, the n-th hand-over of one stream waited out an
exponential backoff (8 SIGTERM hand-overs in a row: 1.2, 2.1, 4.1, 8.1, 16, 30, 30, 30 s).
The bar (the issue): within the heartbeat timeout plus a few seconds however many times
the stream was handed over; a SIGTERM hand-over under 2 s every time.

Baselines: the 1st hand-over of the same chain (#n / #1: ~1 when nothing accumulates),
the configured heartbeat timeout for SIGKILL (a worker that never heartbeated would only
be detected at the activity's start-to-close timeout, 14 days), the 2 s bar for SIGTERM,
and SIGTERM against SIGKILL at each heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType, PendingActivityState, TimeoutType
from temporalio.client import Client
from temporalio.service import RPCError

from arkor_temporal.client.runs import RunHandle, start_run
from arkor_temporal.core.names import ActivityName, TrainingRunMessage
from arkor_temporal.worker import DEFAULT_STICKY_TIMEOUT
from arkor_temporal.workflows.policies import STREAM_RETRY, STREAM_START_TO_CLOSE
from arkor_temporal.workflows.training_run import TrainingRun
from bench.common import (
    RESULTS_DIR,
    BenchResult,
    Emulator,
    Row,
    Stack,
    WorkerProcess,
    emulator,
    median,
    poll_until,
    run_spec,
    task_queue,
    worker_env,
)

NAME = "sigkill_resume"
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}
HAND_OVERS = 10  # per chain at the main heartbeat timeout
REPORTED = (1, 5, 10)  # the hand-overs reported one by one
# (heartbeat timeout, signal, hand-overs): the long chains at 2 s, short ones at 5 s show
# how the SIGKILL resume follows the heartbeat timeout (and SIGTERM does not).
CHAINS: tuple[tuple[float, str, int], ...] = (
    (2.0, "SIGKILL", HAND_OVERS),
    (2.0, "SIGTERM", HAND_OVERS),
    (5.0, "SIGKILL", 3),
    (5.0, "SIGTERM", 3),
)
HEARTBEAT_TIMEOUTS = tuple(sorted({hb for hb, _, _ in CHAINS}))
SIGTERM_BAR = 2.0  # seconds, the bar for a graceful hand-over
# 10 steps/s for as long as a chain needs (the run is terminated when the chain is over):
# a log every 0.2 s, so "step advances" waits little for a new event; at 0.2 s batches the
# history grows ~20 events/s, far from the 4,096 at which Temporal suggests continue-as-new
# during the longest chain.
STEPS_PER_SECOND = 10.0
MAX_STEPS = 100_000
LOGGING_STEPS = 2
FLUSH_SECONDS = 0.2
STICKY_TIMEOUT = DEFAULT_STICKY_TIMEOUT  # what a deployed worker runs with
POLL_SETTLE = 0.5  # after a standby logs that it polls, for its first polls to arrive
WAIT_LIMIT = 60.0
# Longer than the sticky timeout: a query that reaches a dead worker's sticky queue is then
# answered elsewhere once the server gives up on it, instead of timing out here.
QUERY_TIMEOUT = timedelta(seconds=STICKY_TIMEOUT + 2)
EXIT_GRACE = 15.0  # the worker's graceful_shutdown_timeout is 10 s


async def stream_worker(env: dict[str, str], log_dir: Path) -> WorkerProcess:
    """A worker at the deployed sticky timeout: after a SIGKILL the run's next workflow task
    waits out the dead worker's sticky queue, so "step advances" is what deployed workers see."""
    return await WorkerProcess.start(env, log_dir, "--sticky-timeout", f"{STICKY_TIMEOUT:g}")


@dataclass
class HandOver:
    heartbeat_timeout: float
    signal: str
    number: int  # 1 for the chain's first hand-over
    reopen_seconds: float
    query_advance_seconds: float  # until the status query showed the new step
    standby_ready_seconds: float
    victim_exit_seconds: float
    attempt: int  # the stream activity's attempt that took over
    killed_at: float  # wall clock (time.time())
    last_emitted: int
    advance_seconds: float = float("nan")  # from the history, filled in once the chain ends
    # Workflow tasks that timed out between the kill and the step advancing.
    task_timeouts: list[str] = field(default_factory=list)


async def workflow_step(handle: RunHandle) -> int | None:
    try:
        status = await handle.query(TrainingRun.status, rpc_timeout=QUERY_TIMEOUT)
    except Exception:
        return None
    return status.step


async def emitted_step(emu: Emulator, job_id: str) -> int:
    steps = [e["data"].get("step") or 0 for e in await emu.events(job_id)]
    return max(steps, default=0)


@dataclass(frozen=True)
class Applied:
    """A relay signal in the run's history and when the workflow task applying it ended."""

    attempt: int  # of the stream activity that sent it
    step: int  # the highest step in its batch (0 without one)
    at: float  # server time (epoch seconds) of the workflow task completed after it


@dataclass(frozen=True)
class TaskTimeout:
    """A workflow task that timed out: on a dead worker's sticky queue (schedule-to-start)
    or started on a worker that died before completing it (start-to-close)."""

    kind: str
    at: float  # server time, epoch seconds


async def read_history(handle: RunHandle) -> tuple[list[Applied], list[TaskTimeout]]:
    events = list((await handle.fetch_history()).events)
    applied: list[Applied] = []
    timeouts: list[TaskTimeout] = []
    for index, event in enumerate(events):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            kind = TimeoutType.Name(event.workflow_task_timed_out_event_attributes.timeout_type)
            at = event.event_time.ToMicroseconds() / 1e6
            timeouts.append(TaskTimeout(kind.removeprefix("TIMEOUT_TYPE_").lower(), at))
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        if attributes.signal_name != TrainingRunMessage.RELAY_EVENTS:
            continue
        batch = json.loads(attributes.input.payloads[0].data)
        _, _, attempt = str(batch.get("sender", "")).partition("#")
        steps = [e["step"] for e in batch["events"] if e.get("step") is not None]
        completed = next(
            (
                later
                for later in events[index + 1 :]
                if later.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            ),
            None,
        )
        if completed is not None and attempt.isdigit():
            at = completed.event_time.ToMicroseconds() / 1e6
            applied.append(Applied(int(attempt), max(steps, default=0), at))
    return applied, timeouts


def first_applied(applied: list[Applied], attempt: int, after_step: int) -> float:
    """When the workflow first applied a step past ``after_step`` relayed by ``attempt``."""
    return min(
        (a.at for a in applied if a.attempt == attempt and a.step > after_step),
        default=float("nan"),
    )


async def stream_holder(handle: RunHandle) -> tuple[int, int] | None:
    """(pid of the worker running the stream activity, its attempt), once it is running."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name != ActivityName.FOLLOW_JOB_EVENTS:
            continue
        if pending.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            return None
        pid, _, _ = pending.last_worker_identity.partition("@")
        return (int(pid), pending.attempt) if pid.isdigit() else None
    return None


async def wait_held_by(handle: RunHandle, worker: WorkerProcess) -> int:
    """Until the stream activity runs on ``worker``; returns its attempt."""
    attempts: list[int] = []

    async def held() -> bool:
        holder = await stream_holder(handle)
        if holder is not None and holder[0] == worker.proc.pid:
            attempts.append(holder[1])
            return True
        return False

    await poll_until(held, within=WAIT_LIMIT, interval=0.05, what="the stream on the worker")
    return attempts[-1]


async def chain(
    client: Client,
    emu: Emulator,
    env: dict[str, str],
    log_dir: Path,
    workers: list[WorkerProcess],
    heartbeat_timeout: float,
    sig_name: str,
    count: int,
) -> list[HandOver]:
    """One run; its stream handed over ``count`` times. ``workers[-1]`` holds it first."""
    spec = run_spec(
        name=f"bench-resume-{sig_name.lower()}",
        maxSteps=MAX_STEPS,
        loggingSteps=LOGGING_STEPS,
        saveSteps=100,
        orchestration={
            "metricsFlushSeconds": FLUSH_SECONDS,
            "heartbeatTimeoutSeconds": heartbeat_timeout,
        },
    )
    handle = await start_run(
        client,
        spec,
        task_queue=env["ARKOR_TEMPORAL_TASK_QUEUE"],
        workflow_id=f"bench-resume-{uuid.uuid4().hex[:8]}",
    )
    holder = workers[-1]
    job_id: str | None = None
    done: list[HandOver] = []
    try:

        async def relaying() -> bool:
            return ((await workflow_step(handle)) or 0) > 0

        # The stream activity runs on the holder (the only worker) once the run relays.
        try:
            await poll_until(relaying, within=WAIT_LIMIT, interval=0.05, what="the first relay")
        except TimeoutError as exc:
            tail = holder.log_path.read_text(errors="replace")[-3000:]
            raise TimeoutError(f"{exc}; the worker's log ends with:\n{tail}") from None
        status = await handle.query(TrainingRun.status)
        job_id = status.job_id
        if job_id is None:
            raise RuntimeError("the run reports no job id")
        await wait_held_by(handle, holder)

        for number in range(1, count + 1):
            standby = await stream_worker(env, log_dir)
            workers.append(standby)
            await standby.wait_ready()
            await asyncio.sleep(POLL_SETTLE)
            await wait_held_by(handle, holder)  # still there: the standby took nothing
            opens_before = (await emu.job(job_id))["streamOpens"]

            exit_times: list[float] = []

            def note_exit(_: object, times: list[float] = exit_times) -> None:
                times.append(time.monotonic())

            killed_wall, killed_at = time.time(), time.monotonic()
            os.kill(holder.proc.pid, SIGNALS[sig_name])
            exited = asyncio.create_task(holder.proc.wait())
            exited.add_done_callback(note_exit)
            last_emitted = await emitted_step(emu, job_id)

            async def reopened(before: int = opens_before, job: str = job_id) -> bool:
                return bool((await emu.job(job))["streamOpens"] > before)

            async def advanced(after: int = last_emitted) -> bool:
                return ((await workflow_step(handle)) or 0) > after

            reopened_at, advanced_at = await asyncio.gather(
                poll_until(reopened, within=WAIT_LIMIT, interval=0.02, what="a new stream open"),
                poll_until(advanced, within=WAIT_LIMIT, interval=0.05, what="the step to advance"),
            )
            attempt = await wait_held_by(handle, standby)
            # A graceful shutdown may still be under way: give it its time.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), EXIT_GRACE)
            await asyncio.sleep(0)  # let the done callback run
            await holder.stop()
            assert standby.ready_after is not None
            done.append(
                HandOver(
                    heartbeat_timeout=heartbeat_timeout,
                    signal=sig_name,
                    number=number,
                    reopen_seconds=reopened_at - killed_at,
                    query_advance_seconds=advanced_at - killed_at,
                    standby_ready_seconds=standby.ready_after,
                    victim_exit_seconds=(exit_times[0] - killed_at) if exit_times else float("nan"),
                    attempt=attempt,
                    killed_at=killed_wall,
                    last_emitted=last_emitted,
                )
            )
            holder = standby
        applied, timeouts = await read_history(handle)
        for hand_over in done:
            at = first_applied(applied, hand_over.attempt, hand_over.last_emitted)
            hand_over.advance_seconds = at - hand_over.killed_at
            hand_over.task_timeouts = [
                t.kind for t in timeouts if hand_over.killed_at <= t.at <= at + 0.001
            ]
    finally:
        with contextlib.suppress(RPCError):
            await handle.terminate("benchmark chain over")
        if job_id is not None:
            await emu.cancel(job_id)
    return done


def _series(hand_overs: list[HandOver], attribute: str) -> list[float]:
    return [round(getattr(h, attribute), 2) for h in sorted(hand_overs, key=lambda h: h.number)]


def chain_rows(hb: float, sig_name: str, hand_overs: list[HandOver]) -> list[Row]:
    """Median, the reported hand-overs against the first, and the worst against the bar."""
    reopen = [h.reopen_seconds for h in hand_overs]
    advance = [h.advance_seconds for h in hand_overs]
    n = len(hand_overs)
    tag = f"(heartbeat {hb:g} s)"
    if sig_name == "SIGKILL":
        bar, bar_label, bar_ratio = hb, "heartbeat timeout", "resume/heartbeat"
    else:
        bar, bar_label, bar_ratio = SIGTERM_BAR, "bar: 2 s", "resume/bar"
    rows = [
        Row(
            metric=f"{sig_name} -> {label} {tag}, median of {n} hand-overs",
            value=median(values),
            unit="s",
            baseline=bar_label,
            baseline_value=bar,
            ratio_label=bar_ratio,
            samples=values,
        )
        for label, values in (("stream reopened", reopen), ("workflow step advances", advance))
    ]
    if n < max(REPORTED):
        return rows
    by_number = {h.number: h for h in hand_overs}
    first = by_number[1]
    rows.append(
        Row(
            metric=f"{sig_name} hand-over #1 -> stream reopened {tag}",
            value=first.reopen_seconds,
            unit="s",
            baseline=bar_label,
            baseline_value=bar,
            ratio_label=bar_ratio,
        )
    )
    for number in REPORTED[1:]:
        rows.append(
            Row(
                metric=f"{sig_name} hand-over #{number} -> stream reopened {tag}",
                value=by_number[number].reopen_seconds,
                unit="s",
                baseline="hand-over #1",
                baseline_value=first.reopen_seconds,
                ratio_label=f"#{number}/#1",
            )
        )
    last = by_number[max(REPORTED)]
    rows += [
        Row(
            metric=f"{sig_name} hand-over #{last.number} -> workflow step advances {tag}",
            value=last.advance_seconds,
            unit="s",
            baseline="hand-over #1",
            baseline_value=first.advance_seconds,
            ratio_label=f"#{last.number}/#1",
        ),
        Row(
            metric=f"{sig_name} worst of {n} -> stream reopened {tag}",
            value=max(reopen),
            unit="s",
            baseline=bar_label,
            baseline_value=bar,
            ratio_label=bar_ratio,
            samples=reopen,
        ),
        Row(
            metric=f"{sig_name} worst of {n} -> workflow step advances {tag}",
            value=max(advance),
            unit="s",
            baseline=bar_label,
            baseline_value=bar,
            ratio_label=bar_ratio,
            samples=advance,
        ),
    ]
    return rows


async def run(stack: Stack) -> BenchResult:
    client = await stack.client()
    chains: dict[tuple[float, str], list[HandOver]] = {}
    async with emulator(steps_per_second=STEPS_PER_SECOND) as emu:
        env = worker_env(client, emu, task_queue(NAME))
        # Worker logs stay in the (gitignored) results folder: read them when a chain fails.
        log_dir = RESULTS_DIR / "sigkill_resume-workers"
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        workers: list[WorkerProcess] = [await stream_worker(env, log_dir)]
        try:
            await workers[-1].wait_ready()
            for hb, sig_name, count in CHAINS:
                chains[(hb, sig_name)] = await chain(
                    client, emu, env, log_dir, workers, hb, sig_name, count
                )
        finally:
            for worker in workers:  # the killed ones have exited already
                await worker.stop()

    rows: list[Row] = []
    for hb in HEARTBEAT_TIMEOUTS:
        for sig_name in SIGNALS:
            if (hb, sig_name) in chains:
                rows += chain_rows(hb, sig_name, chains[(hb, sig_name)])
        if (hb, "SIGKILL") in chains and (hb, "SIGTERM") in chains:
            kill = [h.reopen_seconds for h in chains[(hb, "SIGKILL")]]
            term = [h.reopen_seconds for h in chains[(hb, "SIGTERM")]]
            rows.append(
                Row(
                    metric=f"SIGKILL -> stream reopened (heartbeat {hb:g} s), median",
                    value=median(kill),
                    unit="s",
                    baseline="SIGTERM -> stream reopened, median",
                    baseline_value=median(term),
                    ratio_label="SIGKILL/SIGTERM",
                    samples=kill,
                    baseline_samples=term,
                )
            )
    every = [h for hand_overs in chains.values() for h in hand_overs]
    extra: dict[str, object] = {}
    for (hb, sig_name), hand_overs in chains.items():
        key = f"{sig_name} heartbeat {hb:g} s, hand-overs #1..#{len(hand_overs)}"
        extra[f"{key}: stream reopened, s"] = _series(hand_overs, "reopen_seconds")
        extra[f"{key}: step advances, s"] = _series(hand_overs, "advance_seconds")
        extra[f"{key}: status query shows it, s"] = _series(hand_overs, "query_advance_seconds")
        extra[f"{key}: workflow task timeouts on the way"] = [
            "+".join(h.task_timeouts) or "-" for h in sorted(hand_overs, key=lambda h: h.number)
        ]
    extra["standby worker start-up until polling, median s"] = round(
        median([h.standby_ready_seconds for h in every]), 2
    )
    extra["SIGTERM until the victim process exited, median s"] = round(
        median([h.victim_exit_seconds for h in every if h.signal == "SIGTERM"]), 2
    )
    extra["stream activity attempt after the last hand-over of each chain"] = {
        f"{sig_name} {hb:g} s": hand_overs[-1].attempt
        for (hb, sig_name), hand_overs in chains.items()
        if hand_overs
    }
    retry = STREAM_RETRY
    return BenchResult(
        name=NAME,
        config={
            "chains": [
                {"heartbeatTimeoutSeconds": hb, "signal": sig, "handOvers": n}
                for hb, sig, n in CHAINS
            ],
            "emulatorStepsPerSecond": STEPS_PER_SECOND,
            "loggingSteps": LOGGING_STEPS,
            "metricsFlushSeconds": FLUSH_SECONDS,
            "stickyTimeoutSeconds": STICKY_TIMEOUT,
            "streamRetry": {
                "initialSeconds": (retry.initial_interval or timedelta()).total_seconds(),
                "backoff": retry.backoff_coefficient,
                "maximumSeconds": (retry.maximum_interval or timedelta()).total_seconds(),
            },
            "streamStartToCloseSeconds": STREAM_START_TO_CLOSE.total_seconds(),
        },
        rows=rows,
        extra=extra,
        raw={"handOvers": [vars(h) for h in every]},
        notes=[
            "Each chain hands ONE run's stream over again and again; a fresh standby worker "
            "is polling before each kill, so its Python start-up is not measured. A SIGKILL "
            "resume is the heartbeat timeout less the age of the last heartbeat the server "
            "got (the SDK sends one at most every 0.8 x the timeout), plus the stream retry's "
            "flat 1 s; a SIGTERM one is WorkerShutdown's 100 ms next_retry_delay plus the "
            "server firing that timer late (Temporal's history.timerProcessorMaxTimeShift, "
            "1 s by default, here too: with it at 10 ms a SIGTERM hand-over took ~0.13 s). "
            "Step advances also waits for the run's next workflow task to leave the dead "
            f"worker's sticky queue (--sticky-timeout {STICKY_TIMEOUT:g}, the worker's "
            "default). Before the flat retry, 8 SIGTERM hand-overs in a row took 1.2, 2.1, "
            "4.1, 8.1, 16, 30, 30, 30 s. Without heartbeats a dead worker would only be "
            f"detected at start-to-close ({STREAM_START_TO_CLOSE.days} days)."
        ],
    )
