"""Time from losing the worker that holds a job's stream to the stream resuming elsewhere.

For each heartbeat timeout setting, and for SIGKILL (a crash) and SIGTERM (a graceful
shutdown: the stream activity raises at once so its retry starts without waiting for the
heartbeat timeout), each trial:

1. starts a run while exactly one worker subprocess (``python worker.py --sticky-timeout
   1``) polls the task queue, so the stream activity lands on it (the victim);
2. once the stream relays, starts a standby worker subprocess and waits until it polls
   (so its Python start-up is not part of the measurement);
3. once the workflow's ``status`` query shows step >= 50, signals the victim, and measures
   * *stream reopened*: until the emulator counts a new stream open for the job
     (``streamOpens`` of ``GET /_emulator/jobs``), and
   * *step advances*: until the ``status`` step exceeds the last step the emulator had
     emitted at the kill (only the new attempt can relay those events);
4. terminates the run and cancels its job; the standby is the next trial's victim.

Baselines: the configured heartbeat timeout (resume / heartbeat timeout: a worker that
never heartbeated would only be detected at the activity's start-to-close timeout,
14 days), and SIGTERM against SIGKILL (SIGKILL / SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError

from arkor_temporal.client.runs import RunHandle, start_run
from arkor_temporal.workflows.policies import STREAM_START_TO_CLOSE
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
HEARTBEAT_TIMEOUTS = (2.0, 5.0)
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}
TRIALS = 3
KILL_AT_STEP = 50
STEPS_PER_SECOND = 20.0
MAX_STEPS = 1200  # 60 s of training: far more than a trial needs
LOGGING_STEPS = 5
FLUSH_SECONDS = 0.2
WAIT_LIMIT = 60.0
EXIT_GRACE = 15.0  # the worker's graceful_shutdown_timeout is 10 s


@dataclass
class Trial:
    heartbeat_timeout: float
    signal: str
    reopen_seconds: float
    advance_seconds: float
    standby_ready_seconds: float
    victim_exit_seconds: float


async def workflow_step(handle: RunHandle) -> int | None:
    try:
        status = await handle.query(TrainingRun.status, rpc_timeout=timedelta(seconds=2))
    except Exception:
        return None
    return status.step


async def emitted_step(emu: Emulator, job_id: str) -> int:
    steps = [e["data"].get("step") or 0 for e in await emu.events(job_id)]
    return max(steps, default=0)


async def one_trial(
    client: Client,
    emu: Emulator,
    env: dict[str, str],
    log_dir: Path,
    victim: WorkerProcess,
    heartbeat_timeout: float,
    sig_name: str,
) -> tuple[Trial, WorkerProcess]:
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
    standby: WorkerProcess | None = None
    job_id: str | None = None
    exit_times: list[float] = []
    try:

        async def relaying() -> bool:
            return ((await workflow_step(handle)) or 0) > 0

        # The stream activity runs on the victim (the only worker) once the run relays.
        try:
            await poll_until(relaying, within=WAIT_LIMIT, interval=0.05, what="the first relay")
        except TimeoutError as exc:
            tail = victim.log_path.read_text(errors="replace")[-3000:]
            raise TimeoutError(f"{exc}; the victim worker's log ends with:\n{tail}") from None
        standby = await WorkerProcess.start(env, log_dir)
        await standby.wait_ready()

        async def reached() -> bool:
            return ((await workflow_step(handle)) or 0) >= KILL_AT_STEP

        await poll_until(reached, within=WAIT_LIMIT, interval=0.05, what=f"step {KILL_AT_STEP}")
        status = await handle.query(TrainingRun.status)
        job_id = status.job_id
        if job_id is None:
            raise RuntimeError("the run reports no job id")
        opens_before = (await emu.job(job_id))["streamOpens"]

        killed_at = time.monotonic()
        os.kill(victim.proc.pid, SIGNALS[sig_name])
        exited = asyncio.create_task(victim.proc.wait())
        exited.add_done_callback(lambda _: exit_times.append(time.monotonic()))
        last_emitted = await emitted_step(emu, job_id)

        async def reopened() -> bool:
            return bool((await emu.job(job_id))["streamOpens"] > opens_before)

        async def advanced() -> bool:
            return ((await workflow_step(handle)) or 0) > last_emitted

        reopened_at, advanced_at = await asyncio.gather(
            poll_until(reopened, within=WAIT_LIMIT, interval=0.02, what="a new stream open"),
            poll_until(advanced, within=WAIT_LIMIT, interval=0.05, what="the step to advance"),
        )
    finally:
        with contextlib.suppress(RPCError):
            await handle.terminate("benchmark trial over")
        if job_id is not None:
            await emu.cancel(job_id)
        if not exit_times:  # a graceful shutdown may still be under way: give it its time
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(victim.proc.wait(), EXIT_GRACE)
            await asyncio.sleep(0)  # let the done callback run
        await victim.stop()
    assert standby is not None and standby.ready_after is not None
    trial = Trial(
        heartbeat_timeout=heartbeat_timeout,
        signal=sig_name,
        reopen_seconds=reopened_at - killed_at,
        advance_seconds=advanced_at - killed_at,
        standby_ready_seconds=standby.ready_after,
        victim_exit_seconds=(exit_times[0] - killed_at) if exit_times else float("nan"),
    )
    return trial, standby


async def run(stack: Stack) -> BenchResult:
    client = await stack.client()
    trials: list[Trial] = []
    async with emulator(steps_per_second=STEPS_PER_SECOND) as emu:
        env = worker_env(client, emu, task_queue(NAME))
        # Worker logs stay in the (gitignored) results folder: read them when a trial fails.
        log_dir = RESULTS_DIR / "sigkill_resume-workers"
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        worker = await WorkerProcess.start(env, log_dir)
        try:
            await worker.wait_ready()
            for heartbeat_timeout in HEARTBEAT_TIMEOUTS:
                for _ in range(TRIALS):
                    for sig_name in SIGNALS:  # interleaved: both see the same machine load
                        trial, worker = await one_trial(
                            client, emu, env, log_dir, worker, heartbeat_timeout, sig_name
                        )
                        trials.append(trial)
        finally:
            await worker.stop()

    rows: list[Row] = []
    for hb in HEARTBEAT_TIMEOUTS:

        def samples(sig_name: str, field: str, hb: float = hb) -> list[float]:
            return [
                getattr(t, field)
                for t in trials
                if t.heartbeat_timeout == hb and t.signal == sig_name
            ]

        for sig_name in SIGNALS:
            for field, label in (
                ("reopen_seconds", "stream reopened"),
                ("advance_seconds", "workflow step advances"),
            ):
                values = samples(sig_name, field)
                rows.append(
                    Row(
                        metric=f"{sig_name} -> {label} (heartbeat {hb:g} s, median of {TRIALS})",
                        value=median(values),
                        unit="s",
                        baseline="heartbeat timeout",
                        baseline_value=hb,
                        ratio_label="resume/heartbeat",
                        samples=values,
                    )
                )
        kill, term = samples("SIGKILL", "reopen_seconds"), samples("SIGTERM", "reopen_seconds")
        rows.append(
            Row(
                metric=f"SIGKILL -> stream reopened (heartbeat {hb:g} s)",
                value=median(kill),
                unit="s",
                baseline="SIGTERM -> stream reopened",
                baseline_value=median(term),
                ratio_label="SIGKILL/SIGTERM",
                samples=kill,
                baseline_samples=term,
            )
        )
    return BenchResult(
        name=NAME,
        config={
            "heartbeatTimeoutSeconds": list(HEARTBEAT_TIMEOUTS),
            "trialsPerSetting": TRIALS,
            "killAtStep": KILL_AT_STEP,
            "emulatorStepsPerSecond": STEPS_PER_SECOND,
            "loggingSteps": LOGGING_STEPS,
            "metricsFlushSeconds": FLUSH_SECONDS,
            "stickyTimeoutSeconds": 1,
            "streamStartToCloseSeconds": STREAM_START_TO_CLOSE.total_seconds(),
        },
        rows=rows,
        extra={
            "standby worker start-up until polling, median s": round(
                median([t.standby_ready_seconds for t in trials]), 2
            ),
            "SIGTERM until the victim process exited, median s": round(
                median([t.victim_exit_seconds for t in trials if t.signal == "SIGTERM"]), 2
            ),
        },
        raw={"trials": [vars(t) for t in trials]},
        notes=[
            "Resume includes the stream retry's 1 s initial backoff (STREAM_RETRY). Without "
            "heartbeats a dead worker would only be detected at start-to-close "
            f"({STREAM_START_TO_CLOSE.days} days). The standby worker is started before the "
            "kill, so its Python start-up is not measured."
        ],
    )
