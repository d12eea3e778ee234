"""Workers for the end-to-end tests: in this process, or as real processes that can be killed.

A worker process writes its output to a log file of its own. The conftest
report hook shows the end of every log the failing test's workers wrote
(:data:`worker_logs`), so a worker that crashed or never polled says why.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.dev import local
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.worker import WorkerGroup, build_worker

# The worker runs from the checkout so that it can import hooks named by import path
# (``tests.support.hook_recorder:...``).
ROOT = Path(__file__).resolve().parents[2]
WORKER_COMMAND = (sys.executable, "-m", "arkor_temporal.worker")
LOG_TAIL = 4000  # characters of a worker log shown with a failed test


@asynccontextmanager
async def running_worker(
    client: Client, context: CloudContext, task_queue: str
) -> AsyncIterator[WorkerGroup]:
    """A worker in this process, for the duration of the block."""
    worker = build_worker(
        client,
        context,
        task_queue=task_queue,
        max_cached_workflows=0,  # replay on every task: catches non-determinism here too
        workflow_failure_exception_types=[workflow.NondeterminismError],
    )
    async with worker:
        yield worker


def worker_env(
    emulator_server: EmulatorServer, temporal_client: Client, task_queue: str
) -> dict[str, str]:
    """Environment for a worker process pointed at the test server and emulator."""
    return local.worker_env(
        temporal_client.service_client.config.target_host,
        temporal_client.namespace,
        task_queue,
        emulator_server.base_url,
    )


class WorkerLogs:
    """The log files of the worker processes the running test started.

    conftest points :attr:`directory` at the session's temporary directory and calls
    :meth:`begin` before each test.
    """

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.paths: list[Path] = []
        self._test = "test"

    def begin(self, test_name: str) -> None:
        self.paths = []
        self._test = re.sub(r"[^\w.-]+", "_", test_name)[:80]

    def new(self) -> Path:
        assert self.directory is not None, "tests/conftest.py sets the worker log directory"
        path = self.directory / f"{self._test}-worker{len(self.paths) + 1}.log"
        self.paths.append(path)
        return path

    def tails(self) -> list[tuple[str, str]]:
        """A report section (title, the log's end) for each log of the running test."""
        sections = []
        for path in self.paths:
            text = path.read_text(errors="replace") if path.exists() else ""
            tail = text[-LOG_TAIL:] if text else "(empty)\n"
            sections.append((f"worker log {path} (last {LOG_TAIL} characters)", tail))
        return sections


worker_logs = WorkerLogs()


@contextmanager
def worker_process(
    emulator_server: EmulatorServer,
    temporal_client: Client,
    task_queue: str,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker in its own process, for tests that kill it; killed when the block ends.

    Its sticky queue times out after 1 s, so the run moves on quickly once it is gone.
    """
    env = {**worker_env(emulator_server, temporal_client, task_queue), **(extra_env or {})}
    with worker_logs.new().open("wb") as log:
        process = subprocess.Popen(
            [*WORKER_COMMAND, "--sticky-timeout", "1"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def run_worker(env: Mapping[str, str], *, timeout: float) -> tuple[int, str]:
    """Run a worker process until it exits: its exit code and its output (kept as its log)."""
    path = worker_logs.new()
    with path.open("wb") as log:
        done = subprocess.run(
            WORKER_COMMAND,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return done.returncode, path.read_text(errors="replace")
