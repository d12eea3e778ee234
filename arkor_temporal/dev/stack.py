"""The local stack: a Temporal dev server, the emulator and a worker, as child processes.

State (pids, the settings the stack runs with, logs, the dev server's database, the
emulator's jobs) lives in ``.arkor-temporal/dev`` under the current directory, so
``dev up`` / ``dev status`` / ``dev down`` work across commands, and a second
``dev up`` reuses what is already running.

A running stack keeps the settings it was started with (ports, emulator speed):
:meth:`DevStack.bind` gives those back and refuses a flag that asks for another
value, instead of quietly ignoring it. :meth:`DevStack.up` checks every port it
needs before it starts anything, and stops what it started when a later part fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import httpx
from temporalio.common import SearchAttributeKey

from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.names import DEFAULT_TASK_QUEUE
from arkor_temporal.dev.local import (
    LOOPBACK,
    DevStackError,
    free_port,
    port_open,
    temporal_binary,
    worker_env,
)

COMPONENTS = ("temporal", "emulator", "worker")  # the order they start in
PROBE_TIMEOUT = 2.0  # seconds a status probe waits for an answer


class StackSettingsError(DevStackError):
    """A flag asks a running stack for another setting than the one it runs with."""


class PortInUseError(DevStackError):
    """A port the stack needs is taken by something else; the message names the flag."""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited process nobody has reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):  # Linux: the state letter follows the name in (...)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[:1] != ["Z"]
    return True


# The settings a running stack is bound to, with the flag that sets each.
SETTING_FLAGS = {
    "temporal_port": "--temporal-port",
    "ui_port": "--ui-port",
    "emulator_port": "--emulator-port",
    "steps_per_second": "--steps-per-second",
}


@dataclass(frozen=True)
class Component:
    """One part of the stack as ``dev status`` sees it."""

    name: str
    pid: int | None  # None: not running (the web UI is part of the temporal process)
    address: str
    answers: bool
    detail: str  # what the probe found, in a few words

    @property
    def healthy(self) -> bool:
        return self.pid is not None and self.answers


@dataclass(frozen=True)
class StackStatus:
    state_dir: Path
    components: tuple[Component, ...]
    ui_url: str

    @property
    def state(self) -> Literal["running", "partial", "stopped"]:
        """``running``: every part runs and answers; ``stopped``: none runs."""
        if all(component.healthy for component in self.components):
            return "running"
        if all(component.pid is None for component in self.components):
            return "stopped"
        return "partial"

    def wire(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "state_dir": str(self.state_dir),
            "ui_url": self.ui_url,
            "components": {
                c.name: {key: value for key, value in asdict(c).items() if key != "name"}
                for c in self.components
            },
        }


@dataclass(frozen=True)
class DevStack:
    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".arkor-temporal" / "dev")
    temporal_port: int = 7233
    ui_port: int = 8233
    emulator_port: int = 8787
    steps_per_second: float = 5.0
    task_queue: str = DEFAULT_TASK_QUEUE
    # The worker's /healthz and /readyz (`dev status` asks it); chosen when it starts.
    worker_health_port: int | None = None

    @property
    def temporal_address(self) -> str:
        return f"localhost:{self.temporal_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://{LOOPBACK}:{self.emulator_port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.ui_port}"

    @property
    def shown_dir(self) -> str:
        """The state directory as the user best recognises it (relative when below the cwd)."""
        try:
            return str(self.state_dir.relative_to(Path.cwd()))
        except ValueError:
            return str(self.state_dir)

    # -- state files ------------------------------------------------------------

    @property
    def _pids_file(self) -> Path:
        return self.state_dir / "pids.json"

    @property
    def _settings_file(self) -> Path:
        return self.state_dir / "stack.json"

    def _pids(self) -> dict[str, int]:
        try:
            data = json.loads(self._pids_file.read_text())
        except (OSError, ValueError):
            return {}
        return {name: pid for name, pid in data.items() if isinstance(pid, int) and _alive(pid)}

    def _save_pids(self, pids: Mapping[str, int]) -> None:
        self._pids_file.write_text(json.dumps(dict(pids), indent=2) + "\n")

    def _record_pid(self, name: str, pid: int | None) -> None:
        pids = self._pids()
        if pid is None:
            pids.pop(name, None)
        else:
            pids[name] = pid
        self._save_pids(pids)

    def _recorded(self) -> dict[str, Any]:
        """The settings the running stack was started with (a stack from before: none)."""
        try:
            data = json.loads(self._settings_file.read_text())
        except (OSError, ValueError):
            return {}
        known = {*SETTING_FLAGS, "worker_health_port"}
        return {key: value for key, value in data.items() if key in known}

    def _save_settings(self) -> None:
        settings = {key: getattr(self, key) for key in (*SETTING_FLAGS, "worker_health_port")}
        self._settings_file.write_text(json.dumps(settings, indent=2) + "\n")

    def running(self) -> dict[str, int]:
        """Running components of this stack, by name, with their pids."""
        return self._pids()

    # -- settings ---------------------------------------------------------------

    def bind(self, explicit: Collection[str] = (), *, changing: bool = True) -> DevStack:
        """This stack with the settings it runs with, if any part of it runs.

        ``explicit`` names the settings the user gave (``SETTING_FLAGS`` keys). One
        that differs from what the running stack uses raises
        :class:`StackSettingsError` (a running Temporal, emulator or worker cannot
        move port or change speed); ``changing`` says whether the command would
        start things (then the fix is ``dev down`` first) or only look or stop.
        With nothing running, this stack is returned as it is.
        """
        running = self.running()
        if not running:
            return self
        bound = replace(self, **self._recorded())
        conflicts = [
            (key, getattr(bound, key), getattr(self, key))
            for key in SETTING_FLAGS
            if key in explicit and getattr(bound, key) != getattr(self, key)
        ]
        if not conflicts:
            return bound
        parts = ", ".join(f"{SETTING_FLAGS[key]} {now:g}" for key, now, _ in conflicts)
        asked = " ".join(f"{SETTING_FLAGS[key]} {wanted:g}" for key, _, wanted in conflicts)
        where = f"the local stack in {self.shown_dir} ({', '.join(running)})"
        if changing:
            fix = (
                "a running stack keeps its settings: leave the flag out to use it as it is, "
                f"or stop it first with `arkor-temporal dev down` and give {asked} again"
            )
        else:
            fix = f"leave the flag out: this command acts on the stack in {self.shown_dir}"
        raise StackSettingsError(f"{where} runs with {parts}, not {asked}; {fix}")

    # -- lifecycle --------------------------------------------------------------

    def up(self) -> list[str]:
        """Start whatever is not running yet; return the names started.

        Every port needed is checked first, so a busy one starts nothing; if a part
        fails to start, the parts this call started are stopped again. Call it on a
        stack from :meth:`bind`, so a part that is missing joins the running ones.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        missing = [name for name in COMPONENTS if name not in self.running()]
        if not missing:
            return []
        self._check_ports(missing)
        # A worker that starts gets a health port of its own; a running one keeps its own.
        stack = replace(self, worker_health_port=free_port()) if "worker" in missing else self
        stack._save_settings()
        started: list[str] = []
        try:
            for name in missing:
                started.append(name)  # before it starts: a failure halfway stops it too
                stack._start(name)
        except BaseException:  # Ctrl+C too: what this call started does not linger
            stack.stop(started)
            raise
        return started

    def down(self) -> list[str]:
        """Stop every component (worker first, so it can hand over cleanly)."""
        return self.stop(COMPONENTS)

    def stop(self, names: Iterable[str]) -> list[str]:
        """Stop these components if they run (worker first); return the names stopped."""
        wanted = set(names)
        pids = self._pids()
        stopped = []
        for name in reversed(COMPONENTS):
            pid = pids.get(name)
            if name in wanted and pid is not None:
                _terminate(pid)
                self._record_pid(name, None)
                stopped.append(name)
        return stopped

    def _check_ports(self, names: Collection[str]) -> None:
        needed = []
        if "temporal" in names:
            needed += [("temporal_port", "Temporal"), ("ui_port", "the Temporal Web UI")]
        if "emulator" in names:
            needed.append(("emulator_port", "the emulator"))
        busy = [(key, what) for key, what in needed if port_open(getattr(self, key))]
        if busy:
            ports = "; ".join(
                f"port {getattr(self, key)} (for {what}) is in use: "
                f"stop what uses it or choose another with `{SETTING_FLAGS[key]} PORT`"
                for key, what in busy
            )
            raise PortInUseError(f"{ports}. Nothing was started.")

    def _start(self, name: str) -> None:
        if name == "temporal":
            self._start_temporal()
        elif name == "emulator":
            self._start_emulator()
        else:
            self._start_worker()

    def _spawn(
        self, name: str, argv: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with (self.state_dir / f"{name}.log").open("ab") as log:
            # In the caller's directory: a spec's hooks and scorers import from there.
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._record_pid(name, process.pid)  # at once, so an interrupted start is stopped too
        return process

    def _start_temporal(self) -> None:
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
        process = self._spawn("temporal", argv)
        self._wait(lambda: port_open(self.temporal_port), "temporal", process, timeout=60)

    def _start_emulator(self) -> None:
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
        process = self._spawn("emulator", argv)
        self._wait(self._emulator_ready, "emulator", process, timeout=30)

    def _emulator_ready(self) -> bool:
        try:
            return httpx.get(f"{self.emulator_url}/_emulator/jobs", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _start_worker(self) -> None:
        log = self.state_dir / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        argv = [sys.executable, "-m", "arkor_temporal.worker"]
        if self.worker_health_port is not None:
            argv += ["--health", f"{LOOPBACK}:{self.worker_health_port}"]
        env = worker_env(self.temporal_address, "default", self.task_queue, self.emulator_url)
        process = self._spawn("worker", argv, env)

        def polling() -> bool:
            with log.open("rb") as handle:
                handle.seek(offset)
                return b"worker polling" in handle.read()

        self._wait(polling, "worker", process, timeout=60)

    def _wait(
        self,
        ready: Callable[[], bool],
        name: str,
        process: subprocess.Popen[bytes],
        *,
        timeout: float,
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            # poll() reaps it: an exited child stays a zombie (and looks alive) until then.
            if process.poll() is not None:
                break
            time.sleep(0.2)
        code = process.poll()
        _terminate(process.pid)
        self._record_pid(name, None)
        what = f"exited with code {code}" if code is not None else f"was not ready in {timeout:g} s"
        tail = (self.state_dir / f"{name}.log").read_text(errors="replace")[-2000:]
        raise DevStackError(f"{name} did not become ready: it {what}; the end of its log:\n{tail}")

    # -- status -----------------------------------------------------------------

    def status(self) -> StackStatus:
        """Each part with its address and whether it answers (probed now)."""
        pids = self.running()
        temporal_answers = port_open(self.temporal_port)
        ui_answers, ui_detail = _http_probe(self.ui_url)
        emulator = _emulator_probe(self.emulator_url)
        worker = self._worker_probe(pids.get("worker"))
        components = (
            _component(
                "temporal", pids.get("temporal"), self.temporal_address, temporal_answers, "answers"
            ),
            _component("web ui", pids.get("temporal"), self.ui_url, ui_answers, ui_detail),
            _component(
                "emulator",
                pids.get("emulator"),
                self.emulator_url,
                *emulator,
                speed=f"{self.steps_per_second:g} steps/s",
            ),
            worker,
        )
        return StackStatus(self.state_dir, components, self.ui_url)

    def _worker_probe(self, pid: int | None) -> Component:
        address = f"task queue {self.task_queue}"
        if pid is None:
            return Component("worker", None, address, False, "not running")
        if self.worker_health_port is None:  # started by an older version: no probe to ask
            return Component("worker", pid, address, True, "running (no health endpoint)")
        url = f"http://{LOOPBACK}:{self.worker_health_port}/readyz"
        address = f"{address}, {url}"
        try:
            answer = httpx.get(url, timeout=PROBE_TIMEOUT)
        except httpx.HTTPError:
            return Component("worker", pid, address, False, "does not answer")
        if answer.status_code == 200:
            return Component("worker", pid, address, True, "ready")
        return Component("worker", pid, address, False, f"not ready: {_failing(answer)}")


def _component(
    name: str, pid: int | None, address: str, answers: bool, detail: str, *, speed: str = ""
) -> Component:
    """``detail`` for a running part; for a stopped one, whether its port is someone else's."""
    if pid is None:
        detail = "not running" + (" (something else answers there)" if answers else "")
        return Component(name, None, address, answers, detail)
    if not answers:
        detail = "does not answer"
    elif speed:
        detail = f"{detail}, {speed}"
    return Component(name, pid, address, answers, detail)


def _http_probe(url: str) -> tuple[bool, str]:
    try:
        answer = httpx.get(url, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError:
        return False, "does not answer"
    return answer.status_code < 500, f"answers (HTTP {answer.status_code})"


def _emulator_probe(base_url: str) -> tuple[bool, str]:
    try:
        answer = httpx.get(f"{base_url}/_emulator/jobs", timeout=PROBE_TIMEOUT)
        jobs = answer.json()["jobs"] if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return False, "does not answer"
    if not isinstance(jobs, list):
        return False, f"answers HTTP {answer.status_code}"
    active = sum(1 for job in jobs if job.get("status") in ("queued", "running"))
    return True, f"answers, {len(jobs)} jobs ({active} training)"


def _failing(answer: httpx.Response) -> str:
    """The checks a 503 from ``/readyz`` names, else its status."""
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    checks = body.get("checks") if isinstance(body, dict) else None
    if isinstance(checks, dict):
        failing = [name for name, result in checks.items() if result != "ok"]
        if failing:
            return ", ".join(failing)
    return f"HTTP {answer.status_code}"


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
