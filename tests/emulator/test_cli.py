"""``python -m arkor_temporal.emulator`` as a real process: its errors, its help, its flags."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from arkor_temporal.dev.local import free_port
from arkor_temporal.emulator.faults import Faults

EMULATOR = [sys.executable, "-m", "arkor_temporal.emulator"]


def emulator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EMULATOR, *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    ("fault", "names"),
    [
        ("serverErrorRate=2", ["serverErrorRate", "a number from 0.0 to 1.0", "not 2"]),
        ("serverErrorStatus=404", ["serverErrorStatus", "a whole number from 500 to 599"]),
        ("dropAfterFrames=2.5", ["dropAfterFrames", "a whole number, 0 or more"]),
        ("postCancel=later", ["postCancel", "one of end, failed, unknown", "not 'later'"]),
        ("malformedFrames=maybe", ["malformedFrames", "true or false"]),
        ("serverErorRate=0.3", ["unknown fault 'serverErorRate'", "did you mean serverErrorRate?"]),
    ],
)
def test_a_bad_fault_is_one_line_naming_it_and_what_it_takes(fault: str, names: list[str]) -> None:
    done = emulator("--fault", fault)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no pydantic report
    line = done.stderr.strip()
    assert line.startswith(f"python -m arkor_temporal.emulator: error: --fault {fault}: ")
    for name in names:
        assert name in line
    assert "pydantic" not in line and "http" not in line


def test_help_describes_every_flag_with_its_default() -> None:
    done = emulator("--help")
    assert done.returncode == 0, done.stderr
    options, _, faults = done.stdout.partition("faults for --fault NAME=VALUE")
    # Each flag's entry: from its line to the next flag's (argparse wraps the help text).
    entries = re.findall(r"^  (--[\w-]+)(.*?)(?=^  -|\Z)", options, flags=re.M | re.S)
    flags = {flag for flag, _ in entries}
    assert flags == {
        "--host",
        "--port",
        "--steps-per-second",
        "--ping-interval",
        "--queue-seconds",
        "--token",
        "--org",
        "--project",
        "--seed",
        "--fault",
        "--deprecation",
        "--logging",
        "--honour-idempotency-key",
        "--reject-bare-step-numbers",
        "--state-file",
    }
    for flag, text in entries:
        assert "(default: " in " ".join(text.split()), f"{flag} has no default in --help"
    assert "--port PORT           port to listen on (default: 8787)" in options
    for field in Faults.model_fields.values():  # every fault, with what it takes
        assert re.search(rf"^  {field.alias} +\S", faults, flags=re.M), field.alias


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    process = subprocess.Popen(
        [
            *EMULATOR,
            "--port",
            str(port),
            "--fault",
            "serverErrorRate=0.25",
            "--fault",
            "postCancel=failed",
            "--logging",
            "combined",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # uvicorn says so once it listens
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail(f"the emulator exited {process.wait()} before it listened")
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


def test_the_flags_reach_the_running_server(served: tuple[subprocess.Popen[str], str]) -> None:
    _, url = served
    faults = httpx.get(f"{url}/_emulator/faults", timeout=10).json()["faults"]
    assert faults == {"serverErrorRate": 0.25, "postCancel": "failed"}
    settings = httpx.get(f"{url}/_emulator/settings", timeout=10).json()["settings"]
    assert settings["logging"] == "combined"
