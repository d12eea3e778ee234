"""How fast a stop reaches the backend: p50/p95 over repeated runs.

* ops cancel: from the moment the ``cancel`` update is sent to the moment the
  emulator records the cancel request for the job;
* stop rule: from the emulator's timestamp of the first ``training.log`` whose
  loss crosses the ceiling (``diverge`` scenario) to the recorded cancel.

Baseline, measured in the same run against the same emulator: a direct
``POST /v1/jobs/:id/cancel`` through the client, timed the same way (send to
record), the floor any orchestrated cancel adds to. Both clocks are this
machine's wall clock (the emulator runs here, as a subprocess).
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from arkor_cloud import ArkorClient
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.runs import cancel_run, start_run
from arkor_temporal.worker import build_worker
from arkor_temporal.workflows.training_run import TrainingRun
from bench.common import (
    BenchResult,
    Emulator,
    Row,
    Stack,
    emulator,
    poll_until,
    run_spec,
    task_queue,
)

NAME = "cancel_latency"
REPEATS = 8
STEPS_PER_SECOND = 50.0
LONG = 100_000  # steps: every run here is ended early
CEILING = 3.0


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def _first_cancel_at(emu: Emulator, job_id: str) -> float:
    """When the emulator recorded the first cancel request for the job (epoch seconds)."""
    recorded: list[float] = []

    async def landed() -> bool:
        cancels = (await emu.http.get(f"/_emulator/jobs/{job_id}/cancels")).json()["cancels"]
        recorded.extend(_epoch(c["at"]) for c in cancels[:1])
        return bool(recorded)

    await poll_until(landed, within=30, interval=0.005, what=f"a cancel of job {job_id}")
    return recorded[0]


async def _wait_running(client: Client, workflow_id: str) -> str:
    """The run's job id, once it has logged a few steps."""
    handle = client.get_workflow_handle_for(TrainingRun.run, workflow_id)
    job: list[str] = []

    async def training() -> bool:
        try:
            status = await handle.query(TrainingRun.status)
        except RPCError:
            return False  # the first workflow task has not run yet
        if status.step >= 10 and status.job_id:
            job.append(status.job_id)
        return bool(job)

    await poll_until(training, within=30, what=f"{workflow_id} to train")
    return job[0]


async def ops_cancel(client: Client, emu: Emulator, queue: str, index: int) -> float:
    handle = await start_run(
        client,
        run_spec(name=f"bench-cancel-{index}", maxSteps=LONG, loggingSteps=5),
        task_queue=queue,
        workflow_id=f"bench-cancel-{index}-{time.time_ns()}",
    )
    job_id = await _wait_running(client, handle.id)
    sent = time.time()
    await cancel_run(handle, "benchmark", "bench")
    return await _first_cancel_at(emu, job_id) - sent


async def rule_stop(client: Client, emu: Emulator, queue: str, index: int) -> float:
    spec = run_spec(
        name=f"bench-rule-{index}",
        maxSteps=LONG,
        loggingSteps=5,
        backend={"emulator": {"scenario": "diverge", "atStep": 20}},
        stopRules={"lossCeiling": CEILING},
    )
    handle = await start_run(
        client, spec, task_queue=queue, workflow_id=f"bench-rule-{index}-{time.time_ns()}"
    )
    result = await handle.result()
    assert result.job_id is not None and result.stop is not None
    events = await emu.events(result.job_id)
    trigger = next(
        e["data"]
        for e in events
        if e["type"] == "training.log" and (e["data"].get("loss") or 0) > CEILING
    )
    return await _first_cancel_at(emu, result.job_id) - _epoch(trigger["timestamp"])


async def direct_cancel(emu: Emulator) -> float:
    async with ArkorClient(emu.settings) as cloud:
        job = await cloud.create_job("bench-direct", run_spec(maxSteps=LONG).job_config())

        async def running() -> bool:
            return (await cloud.get_job(job.id)).status.value == "running"

        await poll_until(running, within=30, what="the direct job to run")
        sent = time.time()
        await cloud.cancel_job(job.id)
    return await _first_cancel_at(emu, job.id) - sent


def _rows(label: str, samples: list[float], floor: list[float]) -> list[Row]:
    return [
        Row(
            f"{label} p50",
            statistics.median(samples) * 1000,
            "ms",
            "direct API cancel p50",
            statistics.median(floor) * 1000,
            "orchestrated/direct",
            samples,
            floor,
        ),
        Row(
            f"{label} p95",
            p95(samples) * 1000,
            "ms",
            "direct API cancel p95",
            p95(floor) * 1000,
            "orchestrated/direct",
        ),
    ]


async def run(stack: Stack) -> BenchResult:
    client = await stack.client()
    queue = task_queue(NAME)
    ops: list[float] = []
    rules: list[float] = []
    floor: list[float] = []
    async with (
        emulator(steps_per_second=STEPS_PER_SECOND) as emu,
        build_worker(client, CloudContext(emu.settings), task_queue=queue),
    ):
        for index in range(REPEATS):  # interleaved, so drift hits all three alike
            floor.append(await direct_cancel(emu))
            ops.append(await ops_cancel(client, emu, queue, index))
            rules.append(await rule_stop(client, emu, queue, index))
    config: dict[str, Any] = {
        "repeats": REPEATS,
        "emulatorStepsPerSecond": STEPS_PER_SECOND,
        "loggingSteps": 5,
        "stopRule": f"lossCeiling {CEILING} on the diverge scenario",
        "metricsFlushSeconds": "default (a triggering log is relayed at once)",
    }
    return BenchResult(
        name=NAME,
        config=config,
        rows=[
            *_rows("ops cancel update -> backend cancel", ops, floor),
            *_rows("stop-rule event -> backend cancel", rules, floor),
        ],
    )
