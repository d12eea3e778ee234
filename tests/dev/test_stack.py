"""``arkor-temporal dev up|run|status|down`` against real stacks on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from arkor_temporal.dev.local import LOOPBACK, port_open
from tests.dev.conftest import FAST, Dev, read_until
from tests.support.cli import CLI

QUICK = ["--set", "maxSteps=10"]


def wait_until_gone(pid: int) -> None:
    """Until ``pid`` has exited (no limit of our own: pytest's timeout bounds a hang)."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


# -- dev status -------------------------------------------------------------------


def test_status_shows_each_part_its_address_and_whether_it_answers(running: Dev) -> None:
    done = running("status")  # no flags: the ports are the running stack's own
    assert done.code == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "local stack in .arkor-temporal/dev: running"
    pids = running.pids()
    expected = {
        "temporal": (pids["temporal"], f"localhost:{running.temporal_port}", "answers"),
        "web ui": (pids["temporal"], f"http://localhost:{running.ui_port}", "answers (HTTP 200)"),
        "emulator": (pids["emulator"], f"http://127.0.0.1:{running.emulator_port}", "answers, "),
        "worker": (pids["worker"], "task queue arkor-training, http://127.0.0.1:", "ready"),
    }
    for name, (pid, address, detail) in expected.items():
        [line] = [line for line in lines if line.startswith(f"  {name} ")]
        assert f"pid {pid} " in line and address in line and detail in line, line
    assert f"{FAST} steps/s" in done.stdout
    assert f"Temporal Web UI: http://localhost:{running.ui_port}" in lines


def test_status_json_names_each_part(running: Dev) -> None:
    done = running("status", "--json")
    assert done.code == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["state"] == "running"
    assert status["ui_url"] == f"http://localhost:{running.ui_port}"
    components = status["components"]
    assert set(components) == {"temporal", "web ui", "emulator", "worker"}
    assert all(part["answers"] and part["pid"] for part in components.values())
    assert components["temporal"]["address"] == f"localhost:{running.temporal_port}"


def test_status_of_a_stack_that_is_not_running_exits_3(dev: Dev) -> None:
    done = dev("status", *dev.ports)
    assert done.code == 3
    assert done.stdout.splitlines()[0] == "local stack in .arkor-temporal/dev: not running"
    assert f"localhost:{dev.temporal_port}" in done.stdout
    assert "start it with `arkor-temporal dev up`" in done.stdout
    assert json.loads(dev("status", "--json").stdout)["state"] == "stopped"


# -- flags against a running stack ------------------------------------------------------


def test_a_running_stack_refuses_a_new_speed_and_says_how(running: Dev) -> None:
    done = running("up", "--steps-per-second", "20")
    assert done.code == 2
    assert f"runs with --steps-per-second {FAST}, not --steps-per-second 20" in done.stderr
    assert "`arkor-temporal dev down`" in done.stderr
    again = running("up")  # without flags: the stack as it runs, its ports and speed
    assert again.code == 0, again.stderr
    assert "started: nothing (already up)" in again.stdout
    assert f"http://localhost:{running.ui_port}" in again.stdout
    assert f"at {FAST} steps/s" in again.stdout


def test_every_command_refuses_ports_the_running_stack_does_not_use(running: Dev) -> None:
    other = str(running.emulator_port + 1)
    for command in ("up", "run", "status", "down"):
        done = running(command, "--emulator-port", other)
        assert done.code == 2, (command, done.stdout, done.stderr)
        assert f"--emulator-port {running.emulator_port}, not --emulator-port {other}" in (
            done.stderr
        )
    same = running("status", *running.ports)  # the ports it runs on are fine
    assert same.code == 0, same.stderr
    assert set(running.pids()) == {"temporal", "emulator", "worker"}  # down stopped nothing


# -- dev run ------------------------------------------------------------------------


def test_dev_run_leaves_a_stack_it_did_not_start_running(running: Dev) -> None:
    before = running.pids()
    done = running("run", *QUICK)
    assert done.code == 0, done.stdout + done.stderr
    assert "started: none; already running: temporal, emulator, worker" in done.stdout
    assert "completed" in done.stdout
    assert "local stack stopped" not in done.stdout
    assert "stack left running (it was up before this command)" in done.stdout
    assert running.pids() == before
    assert running("status").code == 0


def test_dev_run_stops_only_the_part_it_started(running: Dev) -> None:
    worker = running.pids()["worker"]
    os.kill(worker, signal.SIGTERM)  # started by this module's `dev up`
    wait_until_gone(worker)
    try:
        partial = running("status")
        assert partial.code == 4
        assert "partly running" in partial.stdout
        done = running("run", *QUICK)
        assert done.code == 0, done.stdout + done.stderr
        assert "started: worker; already running: temporal, emulator" in done.stdout
        assert "stopped what this command started: worker" in done.stdout
        assert set(running.pids()) == {"temporal", "emulator"}
    finally:
        assert running("up").code == 0  # the module's stack whole again


def test_ctrl_c_on_a_stack_left_up_says_the_run_goes_on_and_how_to_reach_it(
    running: Dev,
) -> None:
    process = running.start("run", "--set", "maxSteps=100000")
    workflow_id = read_until(process, "workflow ")[-1].split()[1]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate()
    assert process.returncode == 130, stderr
    assert f"interrupted: run {workflow_id} goes on on the local stack" in stderr
    address = f"--address localhost:{running.temporal_port}"
    assert f"`arkor-temporal run watch {workflow_id} {address}`" in stderr
    cancel = re.search(rf"`arkor-temporal run cancel {workflow_id} {address} --reason ...`", stderr)
    assert cancel, stderr
    assert set(running.pids()) == {"temporal", "emulator", "worker"}
    # The printed command works as printed.
    argv = [CLI, "run", "cancel", workflow_id, *address.split(), "--reason", "test over"]
    cancelled = subprocess.run(argv, env=running.env(), capture_output=True, text=True)
    assert cancelled.returncode == 0, cancelled.stderr


def test_ctrl_c_when_dev_run_started_the_stack_stops_it_and_the_run_resumes_later(
    dev: Dev,
) -> None:
    process = dev.start("run", "--set", "maxSteps=2000", *dev.ports, "--steps-per-second", "20")
    workflow_id = read_until(process, "workflow ")[-1].split()[1]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate()
    assert process.returncode == 130, stderr
    assert (
        f"interrupted: stopped worker, emulator, temporal, so run {workflow_id} is paused"
    ) in stderr
    up_again = f"`arkor-temporal dev up {' '.join(dev.ports)} --steps-per-second 20`"
    assert up_again in stderr
    assert dev("status").code == 3  # it stopped what it started
    # What the message promises: the stack back (faster, allowed once it is down), the run
    # carries on from its step and completes.
    assert dev("up", *dev.ports, "--steps-per-second", "1000").code == 0
    argv = [CLI, "run", "result", workflow_id, "--address", f"localhost:{dev.temporal_port}"]
    result = subprocess.run([*argv, "--json"], env=dev.env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "completed"


# -- dev up: failures clean up ----------------------------------------------------------


@pytest.fixture
def busy(dev: Dev) -> Iterator[list[int]]:
    """The stack's UI and emulator ports, taken by someone else."""
    sockets = []
    for port in (dev.ui_port, dev.emulator_port):
        server = socket.socket()
        server.bind((LOOPBACK, port))
        server.listen()
        sockets.append(server)
    try:
        yield [dev.ui_port, dev.emulator_port]
    finally:
        for server in sockets:
            server.close()


def test_a_busy_port_starts_nothing_and_names_the_flag(dev: Dev, busy: list[int]) -> None:
    done = dev("up", *dev.ports)
    assert done.code == 2
    ui, emulator = busy
    assert f"port {ui} (for the Temporal Web UI) is in use" in done.stderr
    assert "`--ui-port PORT`" in done.stderr
    assert f"port {emulator} (for the emulator) is in use" in done.stderr
    assert "`--emulator-port PORT`" in done.stderr
    assert "Nothing was started." in done.stderr
    assert not port_open(dev.temporal_port)
    assert dev("status", *dev.ports).code == 3


def test_a_part_that_fails_to_start_stops_the_parts_started_before_it(dev: Dev) -> None:
    # A setting only the worker reads and refuses: Temporal and the emulator start first.
    done = dev("up", *dev.ports, ARKOR_TEMPORAL_LOG_LEVEL="LOUD")
    assert done.code == 4
    # At once: it exited (not a wait for the start-up timeout while it lingered as a zombie).
    assert "worker did not become ready: it exited with code 2" in done.stderr
    assert "ARKOR_TEMPORAL_LOG_LEVEL" in done.stderr  # the end of its log
    assert dev("status", *dev.ports).code == 3
    assert not port_open(dev.temporal_port) and not port_open(dev.emulator_port)
