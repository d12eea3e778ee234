"""Shared setup for the benchmarks: the Temporal dev server, emulator and worker processes,
run specs, and the result records every benchmark prints and writes as JSON.

Everything runs on loopback. The dev server is started once per ``python -m bench``
invocation and shared; each benchmark starts its own emulator (as a subprocess, so
its simulated clock and SSE writer never compete with the measuring process for the
GIL) and, where it needs them, its own workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from arkor_cloud import ClientSettings
from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.spec import RunSpec, parse_spec
from arkor_temporal.dev import local
from arkor_temporal.dev.local import EMULATOR_IDENTITY, DevStackError, free_port, temporal_binary

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MODEL = "unsloth/gemma-4-E4B-it"


# --- results -------------------------------------------------------------------------------


@dataclass
class Row:
    """One measurement beside the baseline measured in the same run."""

    metric: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    ratio_label: str = "value/baseline"
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("nan")


@dataclass
class BenchResult:
    name: str
    config: dict[str, Any]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # printed under the table
    raw: dict[str, Any] = field(default_factory=dict)  # JSON only
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for row, raw in zip(self.rows, data["rows"], strict=True):
            raw["ratio"] = row.ratio
        return data

    def write(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        return path


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(results: list[BenchResult]) -> str:
    header = ("benchmark", "measurement", "value", "unit", "baseline", "baseline value", "ratio")
    lines: list[tuple[str, ...]] = [header]
    for result in results:
        for row in result.rows:
            lines.append(
                (
                    result.name,
                    row.metric,
                    _fmt(row.value),
                    row.unit,
                    row.baseline,
                    _fmt(row.baseline_value),
                    f"{_fmt(row.ratio)} ({row.ratio_label})",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out: list[str] = []
    for index, line in enumerate(lines):
        out.append(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            out.append("-+-".join("-" * width for width in widths))
    return "\n".join(out)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- Temporal --------------------------------------------------------------------------------


class Stack:
    """The shared Temporal dev server, started on first use."""

    def __init__(self) -> None:
        self._env: WorkflowEnvironment | None = None

    async def client(self) -> Client:
        if self._env is None:
            try:
                binary = temporal_binary()
            except DevStackError as exc:
                raise SystemExit(f"bench: {exc}") from exc
            self._env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=binary,
                data_converter=pydantic_data_converter,
                search_attributes=list(sa.ALL),
                ui=False,
                dev_server_log_level="error",
            )
        return self._env.client

    async def aclose(self) -> None:
        if self._env is not None:
            await self._env.shutdown()
            self._env = None


def task_queue(prefix: str) -> str:
    return f"bench-{prefix}-{uuid.uuid4().hex[:8]}"


# --- the emulator ----------------------------------------------------------------------------


@dataclass
class Emulator:
    base_url: str
    http: httpx.AsyncClient
    pid: int | None = None  # the emulator subprocess (for benchmarks that read its /proc)

    @property
    def settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.base_url,
            token=SecretStr(EMULATOR_IDENTITY.token),
            org_slug=EMULATOR_IDENTITY.org,
            project_slug=EMULATOR_IDENTITY.project,
        )

    async def jobs(self) -> list[dict[str, Any]]:
        response = await self.http.get("/_emulator/jobs")
        response.raise_for_status()
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs

    async def job(self, job_id: str) -> dict[str, Any]:
        return next(job for job in await self.jobs() if job["id"] == job_id)

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/_emulator/jobs/{job_id}/events")
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    async def cancel(self, job_id: str) -> None:
        """Stop a job's simulation once a benchmark is done with it (errors ignored)."""
        with contextlib.suppress(httpx.HTTPError):
            await self.http.post(
                f"/v1/jobs/{job_id}/cancel",
                params={"orgSlug": EMULATOR_IDENTITY.org, "projectSlug": EMULATOR_IDENTITY.project},
                headers={"Authorization": f"Bearer {EMULATOR_IDENTITY.token}"},
            )


@contextlib.asynccontextmanager
async def emulator(
    *, steps_per_second: float, ping_interval: float = 0.5, queue_seconds: float = 0.0
) -> AsyncIterator[Emulator]:
    """``python -m arkor_temporal.emulator`` on a free loopback port, for the block."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arkor_temporal.emulator",
        "--port",
        str(port),
        "--steps-per-second",
        str(steps_per_second),
        "--ping-interval",
        str(ping_interval),
        "--queue-seconds",
        str(queue_seconds),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            deadline = time.monotonic() + 20
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"the emulator exited with {proc.returncode}")
                try:
                    (await http.get("/_emulator/jobs")).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
            yield Emulator(base_url, http, proc.pid)
    finally:
        await stop_process(proc, signal.SIGTERM)


async def stop_process(proc: asyncio.subprocess.Process, sig: int, grace: float = 15) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


# --- worker processes ------------------------------------------------------------------------


def worker_env(client: Client, emu: Emulator, queue: str) -> dict[str, str]:
    """The environment of a worker process serving ``queue`` on this server and emulator."""
    # The shared helper under its module name: this function takes its name.
    return local.worker_env(
        client.service_client.config.target_host, client.namespace, queue, emu.base_url
    )


class WorkerProcess:
    """``python -m arkor_temporal.worker ARGS`` with its stderr in a log file."""

    READY_LINE = "worker polling"

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path, started: float) -> None:
        self.proc = proc
        self.log_path = log_path
        self.started = started
        self.ready_after: float | None = None

    @classmethod
    async def start(cls, env: dict[str, str], log_dir: Path, *worker_args: str) -> Self:
        """The worker with ``worker_args`` (default ``--sticky-timeout 1``)."""
        log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "arkor_temporal.worker",
                *(worker_args or ("--sticky-timeout", "1")),
                env=env,
                cwd=ROOT,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        return cls(proc, log_path, started)

    async def wait_ready(self, within: float = 30) -> None:
        """Until the worker logged that it polls (its ``Worker.run`` starts right after)."""
        deadline = time.monotonic() + within
        while True:
            text = await asyncio.to_thread(self.log_path.read_text, errors="replace")
            if self.READY_LINE in text:
                self.ready_after = time.monotonic() - self.started
                return
            if self.proc.returncode is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{text[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready after {within} s:\n{text[-2000:]}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await stop_process(self.proc, signal.SIGKILL)


# --- specs and polling -----------------------------------------------------------------------


def run_spec(**overrides: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "bench-run",
        "model": MODEL,
        "dataset": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "lora": {"r": 16, "alpha": 32},
        "maxSteps": 600,
        "loggingSteps": 10,
        "saveSteps": 100,
    }
    data.update(overrides)
    return parse_spec(data)


async def poll_until(
    probe: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.02, what: str
) -> float:
    """Poll ``probe`` until true; returns the ``time.monotonic()`` it first answered true."""
    deadline = time.monotonic() + within
    while True:
        if await probe():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)
