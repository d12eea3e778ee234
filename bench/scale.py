"""N concurrent runs on one worker: memory, lags, cancels, evaluations and history at scale.

For each N (100 and 300 by default; ``--full`` or ``BENCH_SCALE_FULL=1`` adds 1,000), a
fresh worker subprocess (``python -m arkor_temporal.worker --stream-slots N`` at the
worker's default sticky timeout) follows N runs that train slowly on the emulator
(``STEPS_PER_SECOND`` steps/s, a log every 10 steps, a checkpoint every ``SAVE_STEPS``,
100,000 steps: none ends by itself), each with a one-case evaluation suite, started at
most ``MAX_START_RATE`` a second. As in a fleet in its steady state, the runs are at every
point of their checkpoint cycle: each run first trains some steps at the emulator's full
speed (the ``slow`` scenario slows it down after), so many that the runs stand evenly
spread over their cycle when the window starts (``fleet_specs``): checkpoints and logs come
spread out rather than all at one instant. Every stream slot is busy:

* **worker RSS per run**: the worker's whole ``VmRSS`` once all N jobs have a stream open,
  divided by N (its fixed start-up memory included). Baseline, in the same run: a process
  per stream, as the TypeScript SDK needs one per run: ``PROCESS_SAMPLE`` minimal Node
  processes (``fetch`` reading the event stream) and as many minimal Python ones
  (``httpx`` streaming GET), each following one of the jobs; their mean ``VmRSS`` once
  they tail the stream. Ratio ours/process.
* Then ``cancels_for(N)`` more runs are started: their stream activities wait for a
  slot, so a slot freed by a cancel is taken again at once (every slot stays busy; the
  worker's free stream slots are read from its metrics at each cancel). Once every run
  trains at ``STEPS_PER_SECOND``, a ``WINDOW_SECONDS`` window begins (about a quarter of
  the runs save a checkpoint in it):
* **live view lag**: every ``LIVE_INTERVAL`` s, ``LIVE_SAMPLE`` runs are described as
  ``run status``/``run watch`` do; the live step (the stream activity's heartbeat
  details) is compared afterwards with the emulator's event log: how long a newer
  ``training.log`` had already existed (0 when the view was current). Heartbeat details
  travel at most every 10 s (``LIVE_VIEW_INTERVAL``) by design, so about 5 s p50 and
  10 s p95 is the expected value at any N.
* **checkpoint event -> workflow state**: the emulator's ``checkpoint.saved`` timestamp to
  the ``ActivityTaskScheduled`` of its ``evaluate_checkpoint`` in the run's history: the
  workflow task that applied the relayed checkpoint (the ``status`` query lists it from
  then on) and decided to evaluate it. Every run, every checkpoint in the window.
* **checkpoint saved -> evaluation started**: the same timestamp to the emulator's record
  of the first inference request for that job and step.
* **cancel -> backend cancel**: the ``cancels_for(N)`` runs, spread over the window, are
  cancelled with ``cancel_run`` (the ``cancel`` update); from the call to the emulator's
  record of the cancel request.
* **history events per run-hour**: the history events the runs record inside the window,
  per simulated training hour: the steps the emulator's logs show the runs trained in the
  window, at a nominal GPU's 1 step/s (``COMPRESSION`` x the wall time unless the
  emulator's clock slipped). The 10-minute metrics flush never falls in the window
  (4 events per flush: 24 an hour at the default, not included). Baseline, from the same
  histories and event logs as history_budget does it: one signal (4 events) per relayed
  stream event instead of our batches.

The lag baselines are the same measurements at N=1 (one run, a worker with one stream
slot), in the same run, against the same emulator and dev server; that run saves a
checkpoint every ``BASELINE_SAVE_STEPS`` steps so the baseline gets samples in
``BASELINE_WINDOW_SECONDS``, and ``BASELINE_CANCELS`` sequential runs give its cancel
samples. All timestamps are this machine's wall clock (the emulator and the dev server run
here). The CPU the worker, emulator, dev server, this process and anything else used in
each window is reported too: one 2-core machine runs all of them. A size whose streams
stop opening (``STALL_SECONDS`` without a new one) is measured with the streams it has.

``BENCH_SCALE_SIZES=20,50`` runs other sizes (for development).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from arkor_temporal.client.runs import (
    RunHandle,
    cancel_run,
    query_status,
    start_run,
    stream_cursor,
)
from arkor_temporal.core.names import ActivityName, TaskQueues, TrainingRunMessage
from arkor_temporal.core.spec import RunSpec
from arkor_temporal.dev.local import free_port
from arkor_temporal.worker import DEFAULT_STICKY_TIMEOUT, LIVE_VIEW_INTERVAL
from bench.common import (
    RESULTS_DIR,
    BenchResult,
    Emulator,
    Row,
    Stack,
    WorkerProcess,
    emulator,
    poll_until,
    run_spec,
    task_queue,
    worker_env,
)

NAME = "scale"
ENV_FULL = "BENCH_SCALE_FULL"
ENV_SIZES = "BENCH_SCALE_SIZES"
DEFAULT_SIZES = (100, 300)
FULL_SIZE = 1000
# The emulator's clock; every run trains at STEPS_PER_SECOND once past its fast-forward.
EMULATOR_STEPS_PER_SECOND = 20.0
SLOW_FACTOR = 10.0
STEPS_PER_SECOND = EMULATOR_STEPS_PER_SECOND / SLOW_FACTOR
NOMINAL_STEPS_PER_SECOND = 1.0
COMPRESSION = STEPS_PER_SECOND / NOMINAL_STEPS_PER_SECOND
MAX_STEPS = 100_000  # 14 hours at 2 steps/s: every run here is ended by the benchmark
LOGGING_STEPS = 10  # a training.log every 5 s per run
SAVE_STEPS = 500  # the Hugging Face Trainer's default: a checkpoint every 250 s per run
# A fleet in its steady state has runs at every point of their checkpoint cycle: each run
# trains its first steps at the emulator's full speed, then the rest at STEPS_PER_SECOND
# (the ``slow`` scenario), so many that, when the window starts, the runs stand evenly
# spread over their cycle (see ``fleet_specs``): their checkpoints and logs come spread
# out, not all at one instant. A fast step gains FAST_GAIN steps on a slow one.
FAST_GAIN = 1 - STEPS_PER_SECOND / EMULATOR_STEPS_PER_SECOND
FAST_FORWARD_SECONDS = SAVE_STEPS / FAST_GAIN / EMULATOR_STEPS_PER_SECOND
MAX_START_RATE = 10.0  # runs/s
WINDOW_SECONDS = 60.0  # about a quarter of the runs checkpoint in it
BASELINE_SAVE_STEPS = 5  # a checkpoint every 2.5 s: samples for the N=1 baseline
BASELINE_WINDOW_SECONDS = 25.0
BASELINE_CANCELS = 8
MAX_CANCELS = 20
START_CONCURRENCY = 50
LIVE_SAMPLE = 20
LIVE_INTERVAL = 2.0
BASELINE_LIVE_INTERVAL = 0.5  # one run only: sample it more often
PROCESS_SAMPLE = 10
PROCESS_SETTLE = 3.0
IDLE_SETTLE = 2.0
EVAL_GRACE = 30.0
CANCEL_GRACE = 60.0
# The emulator's own default: the bench helper's 0.5 s would make 2,000 pings a second at
# N=1,000, far more frames than the training logs themselves.
PING_INTERVAL = 15.0
IO_CONCURRENCY = 25
STALL_SECONDS = 60.0  # no new stream for this long: measure the streams that are open
SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
ACTIVITY_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
EVENTS_PER_SIGNAL = 4  # signaled + workflow task scheduled/started/completed
NAIVE_TYPES = ("training.started", "training.log", "checkpoint.saved")
EVAL_SUITE: dict[str, Any] = {
    "cases": [
        {
            "name": "refund-category",
            "messages": [
                {"role": "user", "content": "I was charged twice this month. Please refund it."}
            ],
            "maxTokens": 16,
            "temperature": 0,
            "expect": {"type": "contains", "values": ["billing"], "caseSensitive": False},
        }
    ],
    "concurrency": 2,
    "caseConcurrency": 1,
    "timeoutSeconds": 60,
}

# The smallest honest process per stream: it opens the job's event stream and reads it.
PYTHON_FOLLOWER = """
import sys, httpx
url, token, client = sys.argv[1:4]
headers = {"Authorization": "Bearer " + token, "X-Arkor-Client": client,
           "Accept": "text/event-stream"}
with httpx.stream("GET", url, headers=headers, timeout=None) as response:
    response.raise_for_status()
    print("open", flush=True)
    for _ in response.iter_raw():
        pass
"""
NODE_FOLLOWER = """
(async () => {
  const [url, token, client] = process.argv.slice(1);
  const response = await fetch(url, {headers: {Authorization: "Bearer " + token,
    "X-Arkor-Client": client, Accept: "text/event-stream"}});
  if (!response.ok) { console.error(response.status); process.exit(1); }
  console.log("open");
  for await (const _ of response.body) { }
})();
"""

T = TypeVar("T")


# --- small helpers ---------------------------------------------------------------------------


def sizes() -> tuple[int, ...]:
    raw = os.environ.get(ENV_SIZES, "").strip()
    if raw:
        return tuple(int(part) for part in raw.split(",") if part.strip())
    if os.environ.get(ENV_FULL, "").strip() not in ("", "0"):
        return (*DEFAULT_SIZES, FULL_SIZE)
    return DEFAULT_SIZES


def ramp_seconds(n: int) -> float:
    """How long starting ``n`` runs takes at ``MAX_START_RATE``."""
    return n / MAX_START_RATE


def cancels_for(n: int) -> int:
    return max(2, min(MAX_CANCELS, n // 10))


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def rounded(value: float, digits: int = 3) -> float:
    return round(value, digits) if value == value else value


def _proc_kib(pid: int, file: str, key: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/{file}").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


def rss_mib(pid: int) -> float:
    kib = _proc_kib(pid, "status", "VmRSS")
    return kib / 1024 if kib is not None else float("nan")


def pss_mib(pid: int) -> float:
    """Proportional set size: shared pages split among the processes mapping them."""
    kib = _proc_kib(pid, "smaps_rollup", "Pss")
    return kib / 1024 if kib is not None else float("nan")


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dev_server_pid(target_host: str) -> int | None:
    """The ``temporal server start-dev`` serving this port (started by the bench's Stack)."""
    port = target_host.rpartition(":")[2]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in args and port.encode() in args:
            return int(entry.name)
    return None


async def bounded(items: Iterable[T], call: Callable[[T], Awaitable[Any]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with gate:
            return await call(item)

    return await asyncio.gather(*(one(item) for item in items))


class CpuMeter:
    """CPU seconds of the processes sharing the machine, between two samples."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}

    def sample(self) -> dict[str, float]:
        taken = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        taken["bench (this process)"] = time.process_time()
        taken[MACHINE] = machine_busy_seconds()
        return taken

    @staticmethod
    def cores(
        before: dict[str, float], after: dict[str, float], seconds: float
    ) -> dict[str, float]:
        used = {name: round((after[name] - before[name]) / seconds, 2) for name in before}
        ours = sum(value for name, value in used.items() if name != MACHINE)
        used["other processes"] = round(max(0.0, used[MACHINE] - ours), 2)
        return used


MACHINE = "machine (all processes)"


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``, idle and iowait out)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


# --- the worker ------------------------------------------------------------------------------


class ScaleWorker(WorkerProcess):
    """A worker subprocess with N stream slots, the default sticky timeout and metrics."""

    @classmethod
    async def launch(
        cls, env: dict[str, str], log_dir: Path, *, stream_slots: int, metrics_port: int
    ) -> ScaleWorker:
        return await cls.start(
            env,
            log_dir,
            "--sticky-timeout",
            f"{DEFAULT_STICKY_TIMEOUT:g}",
            "--stream-slots",
            str(stream_slots),
            "--metrics",
            f"127.0.0.1:{metrics_port}",
        )

    def log_levels(self) -> dict[str, int]:
        """How many JSON log lines the worker wrote at each level."""
        counts: Counter[str] = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                counts["(not json)"] += 1
                continue
            level = record.get("level") if isinstance(record, dict) else None
            counts[str(level or "?").lower()] += 1
        return dict(counts)


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")


async def scrape(http: httpx.AsyncClient, port: int) -> dict[str, float]:
    """The worker's Prometheus metrics, ``name{labels}`` -> value (empty on failure)."""
    try:
        response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    except httpx.HTTPError:
        return {}
    metrics: dict[str, float] = {}
    for line in response.text.splitlines():
        match = _METRIC_LINE.match(line)
        if match:
            metrics[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return metrics


def metric_values(metrics: dict[str, float], name: str, *label_parts: str) -> list[float]:
    return [
        value
        for key, value in metrics.items()
        if key.split("{")[0] == name and all(part in key for part in label_parts)
    ]


def metric_sum(metrics: dict[str, float], name: str, *label_parts: str) -> float:
    return sum(metric_values(metrics, name, *label_parts))


def histogram_mean(metrics: dict[str, float], name: str, *label_parts: str) -> float:
    count = metric_sum(metrics, f"{name}_count", *label_parts)
    return metric_sum(metrics, f"{name}_sum", *label_parts) / count if count else float("nan")


# --- runs ------------------------------------------------------------------------------------


def spec_for(n: int, save_steps: int, fast_steps: int = 0) -> RunSpec:
    """A long run with the suite; its first ``fast_steps`` at the emulator's full speed."""
    slow = {"scenario": "slow", "atStep": fast_steps + 1, "slowFactor": SLOW_FACTOR}
    return run_spec(
        name=f"bench-scale-{n}",
        maxSteps=MAX_STEPS,
        loggingSteps=LOGGING_STEPS,
        saveSteps=save_steps,
        evals=EVAL_SUITE,
        backend={"emulator": slow},
    )


def window_offset(n: int) -> float:
    """When the window starts, from the first start: every fast-forward is over then."""
    return ramp_seconds(n) + FAST_FORWARD_SECONDS + 2.0


def fleet_specs(n: int) -> list[RunSpec]:
    """N runs (started at ``i * ramp / n``) at evenly spread steps of their checkpoint
    cycle when the window starts: at the i-th of ``n`` even points, whatever its start time.

    A run fast-forwarding ``f`` steps stands at ``FAST_GAIN * f + STEPS_PER_SECOND * T``
    ``T`` seconds after its start; ``f`` is solved for the wanted position at the window.
    """
    specs = []
    for i in range(n):
        started = i * ramp_seconds(n) / n
        wanted = (i + 0.5) * SAVE_STEPS / n
        behind = (wanted - STEPS_PER_SECOND * (window_offset(n) - started)) % SAVE_STEPS
        specs.append(spec_for(n, SAVE_STEPS, int(behind / FAST_GAIN)))
    return specs


async def start_runs(
    client: Client, queue: str, specs: Sequence[RunSpec], prefix: str, spread: float = 0.0
) -> list[RunHandle]:
    """Start a run per spec, evenly over ``spread`` seconds (or as fast as they go)."""
    began = time.monotonic()
    count = len(specs)

    async def one(index: int) -> RunHandle:
        await asyncio.sleep(max(0.0, began + spread * index / count - time.monotonic()))
        workflow_id = f"{prefix}-{index:04d}-{uuid.uuid4().hex[:6]}"
        return await start_run(client, specs[index], task_queue=queue, workflow_id=workflow_id)

    handles: list[RunHandle] = await bounded(range(count), one, START_CONCURRENCY)
    return handles


async def wait_streams(
    emu: Emulator, workflow_ids: set[str], count: int, within: float, stall: float | None = None
) -> dict[str, str]:
    """Workflow id -> job id, once ``count`` of these runs' jobs have had a stream open.

    With ``stall``, also (with fewer) once no new stream has opened for that long: an
    overloaded worker is measured as it is rather than waited for.
    """
    found: dict[str, str] = {}
    progress = {"count": 0, "at": time.monotonic()}

    async def probe() -> bool:
        found.clear()
        for job in await emu.jobs():
            marker = job.get("marker")
            if isinstance(marker, str) and job["streamOpens"] >= 1:
                workflow_id = marker.rpartition("/")[0]
                if workflow_id in workflow_ids:
                    found[workflow_id] = job["id"]
        now = time.monotonic()
        if len(found) > progress["count"]:
            progress.update(count=len(found), at=now)
        stalled = stall is not None and bool(found) and now - progress["at"] > stall
        return len(found) >= count or stalled

    await poll_until(probe, within=within, interval=0.5, what=f"{count} streams to open")
    return dict(found)


@dataclass
class LiveSample:
    job_id: str
    at: float  # epoch seconds, the middle of the describe call
    step: int  # the live step: the stream activity's heartbeat details (0 before any)
    describe_seconds: float
    query_seconds: float


async def sample_live(
    handles: dict[str, RunHandle],
    job_of: dict[str, str],
    stop: asyncio.Event,
    interval: float = LIVE_INTERVAL,
) -> tuple[list[LiveSample], int]:
    samples: list[LiveSample] = []
    failures = 0

    async def one(workflow_id: str) -> None:
        nonlocal failures
        handle = handles[workflow_id]
        try:
            sent = time.time()
            description = await handle.describe()
            got = time.time()
            cursor = await stream_cursor(description)
            started = time.monotonic()
            status = await query_status(handle)
            query_seconds = time.monotonic() - started
        except (RPCError, TimeoutError):
            failures += 1
            return
        if status is None:
            failures += 1
        step = cursor.progress.step if cursor is not None and cursor.progress else 0
        samples.append(
            LiveSample(job_of[workflow_id], (sent + got) / 2, step, got - sent, query_seconds)
        )

    while not stop.is_set():
        tick = time.monotonic()
        await asyncio.gather(*(one(workflow_id) for workflow_id in handles))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, interval - (time.monotonic() - tick)))
    return samples, failures


def view_lag(logs: list[tuple[int, float]], step: int, at: float) -> float:
    """How long, at ``at``, a newer log than ``step`` had existed (0: the view was current)."""
    for logged_step, stamp in logs:
        if logged_step > step:
            return max(0.0, at - stamp)
    return 0.0


@dataclass
class CancelSample:
    workflow_id: str
    job_id: str
    sent: float
    slots_free: float | None  # the worker's free stream slots when the cancel was sent
    acked_seconds: float | None = None
    backend_seconds: float | None = None
    error: str | None = None


async def cancel_one(
    handle: RunHandle, job_id: str, slots_free: float | None = None
) -> CancelSample:
    sample = CancelSample(handle.id, job_id, time.time(), slots_free)
    try:
        await cancel_run(handle, "scale benchmark", "bench")
        sample.acked_seconds = time.time() - sample.sent
    except Exception as exc:  # reported, not raised: one lost cancel must not end the bench
        sample.error = f"{type(exc).__name__}: {exc}"
    return sample


async def backend_cancel_times(emu: Emulator, samples: list[CancelSample]) -> None:
    for sample in samples:
        response = await emu.http.get(f"/_emulator/jobs/{sample.job_id}/cancels")
        cancels = response.json()["cancels"]
        if cancels:
            sample.backend_seconds = epoch(cancels[0]["at"]) - sample.sent


# --- one window's numbers, from the emulator's records and the histories -------------------


@dataclass
class WindowStats:
    runs: int
    seconds: float
    checkpoints: int = 0
    decision: list[float] = field(default_factory=list)  # s, checkpoint -> eval scheduled
    eval_start: list[float] = field(default_factory=list)  # s, checkpoint -> first inference
    evals_not_started: int = 0
    decisions_missing: int = 0
    history_events: int = 0
    relay_signals: int = 0
    naive_stream_events: int = 0
    trained_steps: int = 0  # in the window, by the emulator's logs, all runs together
    event_types: Counter[str] = field(default_factory=Counter)

    @property
    def simulated_hours(self) -> float:
        """The steps trained in the window, at a nominal GPU's speed."""
        return self.trained_steps / NOMINAL_STEPS_PER_SECOND / 3600

    @property
    def steps_per_second(self) -> float:
        """Each run's speed in the window (STEPS_PER_SECOND unless the emulator slipped)."""
        runs_seconds = self.runs * self.seconds
        return self.trained_steps / runs_seconds if runs_seconds else float("nan")

    @property
    def per_run_hour(self) -> float:
        return self.history_events / self.simulated_hours if self.simulated_hours else float("nan")

    @property
    def naive_per_run_hour(self) -> float:
        naive = (
            self.history_events
            - EVENTS_PER_SIGNAL * self.relay_signals
            + EVENTS_PER_SIGNAL * self.naive_stream_events
        )
        return naive / self.simulated_hours if self.simulated_hours else float("nan")


def _event_seconds(event: Any) -> float:
    return float(event.event_time.seconds + event.event_time.nanos / 1e9)


async def window_stats(
    emu: Emulator,
    handles: dict[str, RunHandle],
    job_of: dict[str, str],
    t0: float,
    t1: float,
) -> tuple[WindowStats, dict[str, list[dict[str, Any]]]]:
    """The numbers of one window over the given runs; also each job's emulator events."""
    stats = WindowStats(runs=len(handles), seconds=t1 - t0)
    workflow_ids = list(handles)
    events_of: dict[str, list[dict[str, Any]]] = dict(
        zip(
            workflow_ids,
            await bounded(workflow_ids, lambda w: emu.events(job_of[w]), IO_CONCURRENCY),
            strict=True,
        )
    )
    checkpoints: dict[tuple[str, int], float] = {}  # (job, step) -> emitted at
    for workflow_id, events in events_of.items():
        logged = [
            (epoch(e["data"]["timestamp"]), e["data"]["step"])
            for e in events
            if e["type"] == "training.log" and e["data"].get("step") is not None
        ]
        at_start = max((step for stamp, step in logged if stamp <= t0), default=0)
        at_end = max((step for stamp, step in logged if stamp <= t1), default=0)
        stats.trained_steps += at_end - at_start
        for event in events:
            stamp = epoch(event["data"]["timestamp"])
            if not t0 <= stamp <= t1:
                continue
            if event["type"] in NAIVE_TYPES:
                stats.naive_stream_events += 1
            if event["type"] == "checkpoint.saved":
                checkpoints[(job_of[workflow_id], event["data"]["step"])] = stamp
    stats.checkpoints = len(checkpoints)

    # Evaluations of the last checkpoints may start after the window: wait for them a while.
    first_call: dict[tuple[str, int], float] = {}
    deadline = time.monotonic() + EVAL_GRACE
    while True:
        calls = (await emu.http.get("/_emulator/inference")).json()["calls"]
        for call in calls:
            key = (call["jobId"], call["step"])
            if key in checkpoints and key not in first_call:
                first_call[key] = epoch(call["at"])
        if len(first_call) == len(checkpoints) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    for key, emitted in checkpoints.items():
        if key in first_call:
            stats.eval_start.append(first_call[key] - emitted)
    stats.evals_not_started = len(checkpoints) - len(first_call)

    async def history(workflow_id: str) -> list[Any]:
        return list((await handles[workflow_id].fetch_history()).events)

    histories = await bounded(workflow_ids, history, IO_CONCURRENCY)
    scheduled: dict[tuple[str, int], float] = {}
    for workflow_id, events in zip(workflow_ids, histories, strict=True):
        job_id = job_of[workflow_id]
        for event in events:
            at = _event_seconds(event)
            if t0 <= at <= t1:
                stats.history_events += 1
                stats.event_types[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
                if (
                    event.event_type == SIGNALED
                    and event.workflow_execution_signaled_event_attributes.signal_name
                    == TrainingRunMessage.RELAY_EVENTS
                ):
                    stats.relay_signals += 1
            if event.event_type == ACTIVITY_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                if attributes.activity_type.name == ActivityName.EVALUATE_CHECKPOINT:
                    step = json.loads(attributes.input.payloads[0].data).get("step")
                    scheduled.setdefault((job_id, step), at)
    for key, emitted in checkpoints.items():
        if key in scheduled:
            stats.decision.append(scheduled[key] - emitted)
    stats.decisions_missing = len(checkpoints) - len(stats.decision)
    return stats, events_of


def live_lags(
    samples: list[LiveSample], events_of_job: dict[str, list[dict[str, Any]]]
) -> list[float]:
    lags: list[float] = []
    for sample in samples:
        logs = [
            (event["data"]["step"], epoch(event["data"]["timestamp"]))
            for event in events_of_job.get(sample.job_id, [])
            if event["type"] == "training.log" and event["data"].get("step") is not None
        ]
        lags.append(view_lag(logs, sample.step, sample.at))
    return lags


# --- a process per stream (the baseline for memory) ------------------------------------------


async def process_per_stream(
    command: list[str], emu: Emulator, job_ids: list[str]
) -> list[tuple[float, float]]:
    """(RSS, PSS) in MiB of one minimal process per job, each tailing the job's stream."""
    settings = emu.settings
    query = f"orgSlug={settings.org_slug}&projectSlug={settings.project_slug}"
    procs: list[asyncio.subprocess.Process] = []
    try:
        for job_id in job_ids:
            url = f"{emu.base_url}/v1/jobs/{job_id}/events/stream?{query}"
            procs.append(
                await asyncio.create_subprocess_exec(
                    *command,
                    url,
                    settings.token.get_secret_value(),
                    f"arkor/{settings.client_version}",
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            if line.strip() != b"open":
                raise RuntimeError(f"{command[0]} follower did not open its stream: {line!r}")
        await asyncio.sleep(PROCESS_SETTLE)  # the replay is read; the process tails the stream
        return [(rss_mib(proc.pid), pss_mib(proc.pid)) for proc in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        for proc in procs:
            await proc.wait()


@dataclass
class ProcessBaseline:
    kind: str
    rss: list[float]
    pss: list[float]


async def process_baselines(emu: Emulator, job_ids: list[str]) -> list[ProcessBaseline]:
    commands: list[tuple[str, list[str]]] = []
    node = shutil.which("node")
    if node:
        commands.append(("Node", [node, "-e", NODE_FOLLOWER]))
    commands.append(("Python", [sys.executable, "-c", PYTHON_FOLLOWER]))
    baselines: list[ProcessBaseline] = []
    for kind, command in commands:
        measured = await process_per_stream(command, emu, job_ids)
        baselines.append(
            ProcessBaseline(kind, [rss for rss, _ in measured], [pss for _, pss in measured])
        )
    return baselines


# --- one level -------------------------------------------------------------------------------


@dataclass
class Level:
    n: int
    stats: WindowStats
    live: list[float]
    cancels: list[CancelSample]
    rss_idle: float
    rss_open: float
    pss_open: float
    rss_end: float
    live_samples: list[LiveSample] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def cancel_lags(self) -> list[float]:
        return [c.backend_seconds for c in self.cancels if c.backend_seconds is not None]


async def terminate_all(handles: Iterable[RunHandle]) -> None:
    async def terminate(handle: RunHandle) -> None:
        with contextlib.suppress(RPCError):
            await handle.terminate("scale benchmark over")

    await bounded(list(handles), terminate, START_CONCURRENCY)


async def teardown(emu: Emulator, worker: WorkerProcess, handles: Iterable[RunHandle]) -> None:
    """Kill the worker, end its runs, and make the emulator forget the jobs (which stops them)."""
    await worker.stop()
    await terminate_all(handles)
    (await emu.http.post("/_emulator/reset")).raise_for_status()


async def free_stream_slots(http: httpx.AsyncClient, port: int, queue: str) -> float | None:
    values = metric_values(
        await scrape(http, port),
        "temporal_worker_task_slots_available",
        f'task_queue="{TaskQueues.of(queue).streams}"',
        'worker_type="ActivityWorker"',
    )
    return sum(values) if values else None


def worker_metrics(metrics: dict[str, float], queue: str) -> dict[str, Any]:
    queues = TaskQueues.of(queue)

    def mean_ms(name: str, *labels: str) -> float:
        return rounded(1000 * histogram_mean(metrics, name, *labels), 1)

    return {
        "workflow task schedule-to-start mean ms": mean_ms(
            "temporal_workflow_task_schedule_to_start_latency", f'task_queue="{queues.control}"'
        ),
        "workflow task execution mean ms": mean_ms(
            "temporal_workflow_task_execution_latency", f'task_queue="{queues.control}"'
        ),
        "work activity schedule-to-start mean ms": mean_ms(
            "temporal_activity_schedule_to_start_latency", f'task_queue="{queues.work}"'
        ),
        "control activity schedule-to-start mean ms": mean_ms(
            "temporal_activity_schedule_to_start_latency", f'task_queue="{queues.control}"'
        ),
        "evaluate_checkpoint execution mean ms": mean_ms(
            "temporal_activity_execution_latency",
            f'activity_type="{ActivityName.EVALUATE_CHECKPOINT}"',
        ),
        "cancel_job execution mean ms": mean_ms(
            "temporal_activity_execution_latency", f'activity_type="{ActivityName.CANCEL_JOB}"'
        ),
        "sticky cache misses": metric_sum(metrics, "temporal_sticky_cache_miss"),
        "workflow cache evictions (forced)": metric_sum(
            metrics, "temporal_sticky_cache_total_forced_eviction"
        ),
        "workflow cache size": metric_sum(metrics, "temporal_sticky_cache_size"),
        "workflow task slots free": metric_sum(
            metrics, "temporal_worker_task_slots_available", 'worker_type="WorkflowWorker"'
        ),
        "sticky cache hits": metric_sum(metrics, "temporal_sticky_cache_hit"),
        "workflow task failures": metric_sum(metrics, "temporal_workflow_task_execution_failed"),
        "activity failures": metric_sum(metrics, "temporal_activity_execution_failed"),
    }


async def measure_level(
    client: Client, emu: Emulator, meter_pids: dict[str, int | None], n: int, log_dir: Path
) -> tuple[Level, list[ProcessBaseline]]:
    level_began = time.monotonic()
    queue = task_queue(f"{NAME}{n}")
    env = worker_env(client, emu, queue)
    metrics_port = free_port()
    worker = await ScaleWorker.launch(env, log_dir, stream_slots=n, metrics_port=metrics_port)
    handles: list[RunHandle] = []
    try:
        await worker.wait_ready()
        await asyncio.sleep(IDLE_SETTLE)
        rss_idle = rss_mib(worker.proc.pid)
        began = time.monotonic()
        handles = await start_runs(
            client, queue, fleet_specs(n), f"scale{n}", spread=ramp_seconds(n)
        )
        started_after = time.monotonic() - began
        # The window starts once every run trains at STEPS_PER_SECOND (a later start
        # shifts every run alike: they stay evenly spread).
        steady_at = began + window_offset(n)
        by_id = {handle.id: handle for handle in handles}
        job_of = await wait_streams(emu, set(by_id), n, within=120 + n, stall=STALL_SECONDS)
        open_after = time.monotonic() - began
        rss_open, pss_open = rss_mib(worker.proc.pid), pss_mib(worker.proc.pid)
        opened = {job["id"]: job["streamOpens"] for job in await emu.jobs()}

        processes: list[ProcessBaseline] = []
        if n >= PROCESS_SAMPLE:
            processes = await process_baselines(emu, list(job_of.values())[:PROCESS_SAMPLE])

        # Runs beyond the slots: a cancel frees a slot, and one of these takes it at once.
        waiting = await start_runs(
            client, queue, [spec_for(n, SAVE_STEPS)] * cancels_for(n), f"scale{n}-waiting"
        )
        handles += waiting
        await asyncio.sleep(max(0.0, steady_at - time.monotonic()))
        rng = random.Random(n)
        followed = sorted(job_of)
        live_ids = rng.sample(followed, min(LIVE_SAMPLE, len(followed) // 2))
        cancel_ids = rng.sample(
            [w for w in followed if w not in live_ids],
            min(cancels_for(n), len(followed) - len(live_ids)),
        )

        async with httpx.AsyncClient() as http:

            async def canceller() -> list[CancelSample]:
                interval = WINDOW_SECONDS / (len(cancel_ids) + 1)
                tasks = []
                for workflow_id in cancel_ids:
                    await asyncio.sleep(interval)
                    free = await free_stream_slots(http, metrics_port, queue)
                    tasks.append(
                        asyncio.create_task(
                            cancel_one(by_id[workflow_id], job_of[workflow_id], free)
                        )
                    )
                if not tasks:
                    return []
                done, _ = await asyncio.wait(tasks, timeout=CANCEL_GRACE)
                return [task.result() for task in tasks if task in done]

            cpu_before = meter_sample(meter_pids, worker, emu)
            t0 = time.time()
            stop = asyncio.Event()
            sampler = asyncio.create_task(
                sample_live({w: by_id[w] for w in live_ids}, job_of, stop)
            )
            cancelling = asyncio.create_task(canceller())
            await asyncio.sleep(WINDOW_SECONDS)
            t1 = time.time()
            cpu = CpuMeter.cores(cpu_before, meter_sample(meter_pids, worker, emu), t1 - t0)
            stop.set()
            live_samples, live_failures = await sampler
            rss_end = rss_mib(worker.proc.pid)
            metrics = await scrape(http, metrics_port)
            cancels = await cancelling
        measured = {w: by_id[w] for w in followed if w not in cancel_ids}
        stats, events_of = await window_stats(emu, measured, job_of, t0, t1)
        await backend_cancel_times(emu, cancels)
        events_of_job = {job_of[w]: events for w, events in events_of.items()}
        level = Level(
            n=n,
            stats=stats,
            live=live_lags(live_samples, events_of_job),
            cancels=cancels,
            rss_idle=rss_idle,
            rss_open=rss_open,
            pss_open=pss_open,
            rss_end=rss_end,
            live_samples=live_samples,
        )
        level.extra = {
            "measured in s (teardown excluded)": round(time.monotonic() - level_began, 1),
            "runs started in s": round(started_after, 1),
            "streams open at the window start": f"{len(job_of)}/{n}",
            "streams opened within s of the first start": round(open_after, 1),
            "stream opens per job at that point (max)": max(
                (opened.get(job, 0) for job in job_of.values()), default=0
            ),
            "waiting runs (beyond the slots)": len(waiting),
            "free stream slots when each cancel was sent": [c.slots_free for c in cancels],
            "cancel update answered p50/p95 ms": [
                rounded(1000 * p50(acks := [c.acked_seconds for c in cancels if c.acked_seconds])),
                rounded(1000 * p95(acks)),
            ],
            "cancel errors": [c.error for c in cancels if c.error],
            "live samples (failed calls)": f"{len(live_samples)} ({live_failures})",
            "describe p50/p95 ms": [
                rounded(1000 * p50(d := [s.describe_seconds for s in live_samples])),
                rounded(1000 * p95(d)),
            ],
            "status query p50/p95 ms": [
                rounded(1000 * p50(q := [s.query_seconds for s in live_samples])),
                rounded(1000 * p95(q)),
            ],
            "checkpoints in window": stats.checkpoints,
            "run steps/s in window (emulator's logs)": rounded(stats.steps_per_second, 2),
            "checkpoint -> eval scheduled missing": stats.decisions_missing,
            "evaluations not started within grace": stats.evals_not_started,
            "checkpoint -> evaluation started p50 ms": rounded(1000 * p50(stats.eval_start), 1),
            "history events per checkpoint in window": rounded(
                stats.history_events / stats.checkpoints if stats.checkpoints else float("nan"), 2
            ),
            "history event types in window": dict(stats.event_types.most_common()),
            "worker RSS MiB idle/all open/window end": [
                round(rss_idle, 1),
                round(rss_open, 1),
                round(rss_end, 1),
            ],
            "worker RSS above idle per run MiB": rounded((rss_open - rss_idle) / n, 3),
            "worker PSS / run MiB": rounded(pss_open / n, 3),
            "CPU cores used in window": cpu,
            "worker metrics": worker_metrics(metrics, queue),
            "worker log lines by level": worker.log_levels(),
        }
        return level, processes
    finally:
        await teardown(emu, worker, handles)


def meter_sample(
    pids: dict[str, int | None], worker: WorkerProcess, emu: Emulator
) -> dict[str, float]:
    return CpuMeter({**pids, "worker": worker.proc.pid, "emulator": emu.pid}).sample()


async def measure_baseline(
    client: Client, emu: Emulator, meter_pids: dict[str, int | None], log_dir: Path
) -> Level:
    """N=1: one run on a worker with one stream slot; then sequential cancel trials."""
    level_began = time.monotonic()
    queue = task_queue(f"{NAME}1")
    env = worker_env(client, emu, queue)
    metrics_port = free_port()
    worker = await ScaleWorker.launch(env, log_dir, stream_slots=1, metrics_port=metrics_port)
    handles: list[RunHandle] = []
    spec = spec_for(1, BASELINE_SAVE_STEPS)  # at STEPS_PER_SECOND from its first step
    try:
        await worker.wait_ready()
        await asyncio.sleep(IDLE_SETTLE)
        rss_idle = rss_mib(worker.proc.pid)
        [handle] = await start_runs(client, queue, [spec], "scale1")
        handles.append(handle)
        job_of = await wait_streams(emu, {handle.id}, 1, within=60)
        rss_open, pss_open = rss_mib(worker.proc.pid), pss_mib(worker.proc.pid)
        cpu_before = meter_sample(meter_pids, worker, emu)
        t0 = time.time()
        stop = asyncio.Event()
        sampler = asyncio.create_task(
            sample_live({handle.id: handle}, job_of, stop, BASELINE_LIVE_INTERVAL)
        )
        await asyncio.sleep(BASELINE_WINDOW_SECONDS)
        t1 = time.time()
        cpu = CpuMeter.cores(cpu_before, meter_sample(meter_pids, worker, emu), t1 - t0)
        stop.set()
        live_samples, _ = await sampler
        rss_end = rss_mib(worker.proc.pid)
        stats, events_of = await window_stats(emu, {handle.id: handle}, job_of, t0, t1)
        cancels = [await cancel_one(handle, job_of[handle.id])]
        for trial in range(1, BASELINE_CANCELS):
            [handle] = await start_runs(client, queue, [spec], f"scale1-cancel{trial}")
            handles.append(handle)
            trial_job = await wait_streams(emu, {handle.id}, 1, within=60)
            await asyncio.sleep(1.0)  # streaming, as the runs cancelled at scale are
            cancels.append(await cancel_one(handle, trial_job[handle.id]))
        await backend_cancel_times(emu, cancels)
        level = Level(
            n=1,
            stats=stats,
            live=live_lags(live_samples, {job_of[w]: e for w, e in events_of.items()}),
            cancels=cancels,
            rss_idle=rss_idle,
            rss_open=rss_open,
            pss_open=pss_open,
            rss_end=rss_end,
            live_samples=live_samples,
        )
        level.extra = {
            "measured in s (teardown excluded)": round(time.monotonic() - level_began, 1),
            "saveSteps": BASELINE_SAVE_STEPS,
            "window s": BASELINE_WINDOW_SECONDS,
            "checkpoints in window": stats.checkpoints,
            "checkpoint -> evaluation started p50 ms": rounded(1000 * p50(stats.eval_start), 1),
            "history events per checkpoint in window": rounded(
                stats.history_events / stats.checkpoints if stats.checkpoints else float("nan"), 2
            ),
            "live samples": len(live_samples),
            "status query p50 ms": rounded(1000 * p50([s.query_seconds for s in live_samples])),
            "cancel update answered p50 ms": rounded(
                1000 * p50([c.acked_seconds for c in cancels if c.acked_seconds])
            ),
            "worker RSS MiB idle/one run": [round(rss_idle, 1), round(rss_open, 1)],
            "CPU cores used in window": cpu,
        }
        return level
    finally:
        await teardown(emu, worker, handles)


# --- rows ------------------------------------------------------------------------------------


def level_rows(level: Level, base: Level, processes: list[ProcessBaseline]) -> list[Row]:
    tag = f"[N={level.n}]"
    rows: list[Row] = []
    per_run = level.rss_open / level.n
    for process in processes:
        rows.append(
            Row(
                f"{tag} worker RSS / run",
                per_run,
                "MiB",
                f"{process.kind} process per stream (RSS)",
                statistics.fmean(process.rss),
                "ours/process",
                baseline_samples=process.rss,
            )
        )

    def pair(label: str, unit: str, scale: float, ours: list[float], floor: list[float]) -> None:
        for name, stat in (("p50", p50), ("p95", p95)):
            rows.append(
                Row(
                    f"{tag} {label} {name}",
                    scale * stat(ours),
                    unit,
                    f"N=1 {name}",
                    scale * stat(floor),
                    f"N={level.n}/N=1",
                    samples=[rounded(v, 4) for v in ours],
                    baseline_samples=[rounded(v, 4) for v in floor],
                )
            )

    pair("live view lag", "s", 1, level.live, base.live)
    pair(
        "checkpoint event -> workflow state", "ms", 1000, level.stats.decision, base.stats.decision
    )
    pair("cancel -> backend cancel", "ms", 1000, level.cancel_lags(), base.cancel_lags())
    rows.append(
        Row(
            f"{tag} checkpoint saved -> evaluation started p95",
            1000 * p95(level.stats.eval_start),
            "ms",
            "N=1 p95",
            1000 * p95(base.stats.eval_start),
            f"N={level.n}/N=1",
            samples=[rounded(v, 4) for v in level.stats.eval_start],
            baseline_samples=[rounded(v, 4) for v in base.stats.eval_start],
        )
    )
    rows.append(
        Row(
            f"{tag} history events / run-hour",
            level.stats.per_run_hour,
            "events",
            "naive: 1 signal per event",
            level.stats.naive_per_run_hour,
            "ours/naive",
        )
    )
    return rows


async def run(stack: Stack) -> BenchResult:
    client = await stack.client()
    log_dir = RESULTS_DIR / "scale-workers"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    meter_pids = {"dev server": dev_server_pid(client.service_client.config.target_host)}
    levels: list[Level] = []
    processes: list[ProcessBaseline] = []
    failed: list[str] = []
    async with emulator(
        steps_per_second=EMULATOR_STEPS_PER_SECOND, ping_interval=PING_INTERVAL
    ) as emu:
        base = await measure_baseline(client, emu, meter_pids, log_dir)
        for n in sizes():
            print(f"  scale: N={n} ...", file=sys.stderr, flush=True)
            try:
                level, measured = await measure_level(client, emu, meter_pids, n, log_dir)
            except Exception as exc:  # the other sizes' numbers still count; say what broke
                failed.append(f"N={n}: {type(exc).__name__}: {exc}"[:2000])
                continue
            levels.append(level)
            processes = processes or measured
    rows: list[Row] = []
    extra: dict[str, Any] = {"N=1 (baseline)": base.extra}
    for level in levels:
        rows += level_rows(level, base, processes)
        extra[f"N={level.n}"] = level.extra
    if len(levels) >= 2:
        extra["marginal worker RSS per run between the sizes MiB"] = {
            f"{a.n}->{b.n}": rounded((b.rss_open - a.rss_open) / (b.n - a.n), 3)
            for a, b in itertools.pairwise(levels)
        }
    if failed:
        extra["failed sizes (worker logs in bench/results/scale-workers)"] = failed
    for process in processes:
        extra[f"{process.kind} process per stream RSS / PSS MiB (mean of {len(process.rss)})"] = [
            round(statistics.fmean(process.rss), 1),
            round(statistics.fmean(process.pss), 1),
        ]
    return BenchResult(
        name=NAME,
        config={
            "sizes": list(sizes()),
            "emulatorStepsPerSecond": EMULATOR_STEPS_PER_SECOND,
            "runStepsPerSecond": STEPS_PER_SECOND,
            "slowFactor": SLOW_FACTOR,
            "fastForward": "each run's first steps at full speed: evenly spread in its "
            "checkpoint cycle when the window starts",
            "nominalGpuStepsPerSecond": NOMINAL_STEPS_PER_SECOND,
            "maxSteps": MAX_STEPS,
            "loggingSteps": LOGGING_STEPS,
            "saveSteps": SAVE_STEPS,
            "baselineSaveSteps": BASELINE_SAVE_STEPS,
            "evals": "1 case, no base-model comparison",
            "windowSeconds": WINDOW_SECONDS,
            "baselineWindowSeconds": BASELINE_WINDOW_SECONDS,
            "rampSecondsPerSize": {str(n): ramp_seconds(n) for n in sizes()},
            "cancelsPerSize": {str(n): cancels_for(n) for n in sizes()},
            "baselineCancels": BASELINE_CANCELS,
            "liveSample": LIVE_SAMPLE,
            "liveIntervalSeconds": LIVE_INTERVAL,
            "heartbeatDetailsEverySeconds": LIVE_VIEW_INTERVAL.total_seconds(),
            "emulatorPingSeconds": PING_INTERVAL,
            "stickyTimeoutSeconds": DEFAULT_STICKY_TIMEOUT,
            "orchestration": "defaults (metricsFlushSeconds 600, heartbeat timeout 30 s)",
            "processesPerStreamSample": PROCESS_SAMPLE,
        },
        rows=rows,
        extra=extra,
        raw={
            "cancels": {
                str(level.n): [vars(c) for c in level.cancels] for level in [base, *levels]
            },
        },
        notes=[
            "Worker RSS / run = the worker's whole VmRSS with all N streams open, / N (its "
            "fixed start-up cost included); a process per stream is one minimal process that "
            "only reads the job's event stream (a lower bound for a process per run running "
            "an SDK); PSS, which splits shared pages, is in extra.",
            "Live view lag: how long a newer training.log than the live step in the stream's "
            "heartbeat details (what `run watch` shows between the workflow's updates) had "
            f"existed; the details are sent at most every {LIVE_VIEW_INTERVAL.total_seconds():g}"
            " s by design, so 0-10 s is expected at any N, and the N=1 value depends on its one "
            "run's phase between heartbeats and logs. Checkpoint -> workflow "
            "state: emulator checkpoint.saved timestamp to the ActivityTaskScheduled of its "
            "evaluation in the run's history. Evaluation started: to the emulator's first "
            "inference request for that checkpoint. Cancel: cancel_run call to the emulator's "
            "cancel record, while every stream slot is busy (runs wait for slots).",
            "History per run-hour: events inside the window, per simulated hour (the steps "
            f"trained in it at a nominal {NOMINAL_STEPS_PER_SECOND:g} step/s; x{COMPRESSION:g} "
            "the wall time by design); the 600 s metrics flush never falls in the "
            "window (it adds 4 events per flush, 24/h). The N=1 baseline saves every "
            f"{BASELINE_SAVE_STEPS} steps instead of {SAVE_STEPS} to get samples quickly.",
            "CPU cores used in each window are in extra ('other processes': anything that is "
            "not this benchmark, e.g. a test run sharing the machine, which inflates tails).",
            *(f"FAILED {failure}" for failure in failed),
        ],
    )
