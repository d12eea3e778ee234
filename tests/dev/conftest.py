"""The ``arkor-temporal dev`` commands as real processes, each stack in a directory of its own.

A stack runs its Temporal dev server, emulator and worker on ports nothing else
uses (``free_port``), with its state in the test's directory, so tests never
meet each other's stacks, the session's dev server or a developer's own stack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from arkor_temporal.dev.local import free_port
from tests.support.cli import CLI, Completed

FAST = "50"  # steps per second: the quickstart's 100 steps take 2 s


@dataclass(frozen=True)
class Dev:
    """``arkor-temporal dev ...`` run in ``cwd``, where its stack keeps its state."""

    cwd: Path
    temporal_port: int
    ui_port: int
    emulator_port: int

    @classmethod
    def fresh(cls, cwd: Path) -> Dev:
        return cls(cwd, free_port(), free_port(), free_port())

    @property
    def ports(self) -> list[str]:
        return [
            "--temporal-port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--emulator-port",
            str(self.emulator_port),
        ]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "NO_COLOR": "1", "COLUMNS": "300", **extra}

    def __call__(self, *args: str, **env: str) -> Completed:
        done = subprocess.run(
            [CLI, "dev", *args], cwd=self.cwd, env=self.env(**env), capture_output=True, text=True
        )
        return Completed(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``dev ARGS`` in the background, stdout read line by line; Ctrl+C reaches it."""
        return subprocess.Popen(
            [CLI, "dev", *args],
            cwd=self.cwd,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # A shell running the tests in the background may ignore SIGINT; ours must not.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def pids(self) -> dict[str, int]:
        data: dict[str, int] = json.loads((self.cwd / ".arkor-temporal/dev/pids.json").read_text())
        return data

    def down(self) -> None:
        done = self("down")
        assert done.code == 0, done.stderr


def read_until(process: subprocess.Popen[str], prefix: str) -> list[str]:
    """stdout lines up to the first that starts with ``prefix`` (the process keeps running)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"exited {process.wait()} before {prefix!r}: {''.join(lines)}")


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    """A stack of the test's own, not started; whatever the test left running is stopped."""
    stack = Dev.fresh(tmp_path)
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """One stack started with ``dev up`` for the module's tests; they leave it running."""
    stack = Dev.fresh(tmp_path_factory.mktemp("stack"))
    up = stack("up", *stack.ports, "--steps-per-second", FAST)
    assert up.code == 0, up.stdout + up.stderr
    try:
        yield stack
    finally:
        stack.down()
