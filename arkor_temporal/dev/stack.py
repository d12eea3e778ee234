"""The local stack: a Temporal dev server, the emulator and a worker, as child processes.

State (pids, logs, the dev server's database, the emulator's jobs) lives in ``.arkor-temporal/dev``
under the current directory, so ``dev up`` / ``dev status`` / ``dev down`` work
across commands, and a second ``dev up`` reuses what is already running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.common import SearchAttributeKey

from arkor_temporal.core import search_attributes as sa
from arkor_temporal.dev.local import DevStackError, port_open, temporal_binary, worker_env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@dataclass
class DevStack:
    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".arkor-temporal" / "dev")
    temporal_port: int = 7233
    ui_port: int = 8233
    emulator_port: int = 8787
    steps_per_second: float = 5.0
    task_queue: str = "arkor-training"

    @property
    def temporal_address(self) -> str:
        return f"localhost:{self.temporal_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.ui_port}"

    # -- state file -------------------------------------------------------------

    @property
    def _pids_file(self) -> Path:
        return self.state_dir / "pids.json"

    def _pids(self) -> dict[str, int]:
        try:
            data = json.loads(self._pids_file.read_text())
        except (OSError, ValueError):
            return {}
        return {name: pid for name, pid in data.items() if isinstance(pid, int) and _alive(pid)}

    def _save_pids(self, pids: Mapping[str, int]) -> None:
        self._pids_file.write_text(json.dumps(dict(pids), indent=2) + "\n")

    def status(self) -> dict[str, int]:
        """Running components of this stack, by name, with their pids."""
        return self._pids()

    # -- lifecycle --------------------------------------------------------------

    def up(self) -> list[str]:
        """Start whatever is not running yet; return the names started."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        pids = self._pids()
        started = []
        for name, start in (
            ("temporal", self._start_temporal),
            ("emulator", self._start_emulator),
            ("worker", self._start_worker),
        ):
            if name not in pids:
                try:
                    pids[name] = start()
                finally:
                    self._save_pids(pids)
                started.append(name)
        return started

    def down(self) -> list[str]:
        """Stop every component (worker first, so it can hand over cleanly)."""
        pids = self._pids()
        stopped = []
        for name in ("worker", "emulator", "temporal"):
            pid = pids.pop(name, None)
            if pid is not None:
                _terminate(pid)
                stopped.append(name)
        self._save_pids(pids)
        return stopped

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> int:
        log = (self.state_dir / f"{name}.log").open("ab")
        # In the caller's directory: a spec's hooks and scorers import from there.
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        return process.pid

    def _start_temporal(self) -> int:
        for port in (self.temporal_port, self.ui_port):
            if port_open(port):
                raise DevStackError(
                    f"port {port} is already in use; stop what uses it (another "
                    "`temporal server start-dev`?) or choose other ports"
                )
        argv = [
            temporal_binary(),
            "server",
            "start-dev",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--db-filename",
            str(self.state_dir / "temporal.db"),
            "--log-level",
            "warn",
        ]
        for key in sa.ALL:
            argv += ["--search-attribute", f"{key.name}={_sa_type(key)}"]
        pid = self._spawn("temporal", argv)
        self._wait(lambda: port_open(self.temporal_port), "temporal", pid, timeout=60)
        return pid

    def _start_emulator(self) -> int:
        if port_open(self.emulator_port):
            raise DevStackError(f"port {self.emulator_port} is already in use; stop what uses it")
        argv = [
            sys.executable,
            "-m",
            "arkor_temporal.emulator",
            "--port",
            str(self.emulator_port),
            "--steps-per-second",
            str(self.steps_per_second),
            # Jobs outlive ``dev down``/``dev up``, so runs in flight are not stranded.
            "--state-file",
            str(self.state_dir / "emulator-state.json"),
        ]
        pid = self._spawn("emulator", argv)
        self._wait(self._emulator_ready, "emulator", pid, timeout=30)
        return pid

    def _emulator_ready(self) -> bool:
        try:
            return httpx.get(f"{self.emulator_url}/_emulator/jobs", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _start_worker(self) -> int:
        log = self.state_dir / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        argv = [sys.executable, "-m", "arkor_temporal.worker"]
        env = worker_env(self.temporal_address, "default", self.task_queue, self.emulator_url)
        pid = self._spawn("worker", argv, env)

        def polling() -> bool:
            with log.open("rb") as handle:
                handle.seek(offset)
                return b"worker polling" in handle.read()

        self._wait(polling, "worker", pid, timeout=60)
        return pid

    def _wait(self, ready: Callable[[], bool], name: str, pid: int, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if not _alive(pid):
                break
            time.sleep(0.2)
        _terminate(pid)
        tail = (self.state_dir / f"{name}.log").read_text(errors="replace")[-2000:]
        raise DevStackError(f"{name} did not become ready; the end of its log:\n{tail}")


def _sa_type(key: SearchAttributeKey[Any]) -> str:
    """The type name ``temporal server start-dev --search-attribute`` expects."""
    return key.indexed_value_type.name.title().replace("_", "")


def _terminate(pid: int, timeout: float = 15) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
