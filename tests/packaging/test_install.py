"""The installed product, not the checkout: a wheel, a fresh virtualenv, another directory.

Slow by nature (a virtualenv and an install, from pip's cache), so one module-scoped
install serves every test here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from arkor_temporal.dev.local import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("arkor_temporal-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel and its local-stack extra; yields its bin/."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[local]"],
        check=True,
        capture_output=True,
    )
    yield bin_dir


def clean_env(home: Path) -> dict[str, str]:
    """No variable of the checkout's environment leaks into the installed one."""
    keep = {"PATH", "LANG", "LC_ALL", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "HOME": str(home)}


def test_the_wheel_holds_only_namespaced_packages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"arkor_temporal", "arkor_cloud"}


def test_the_wheel_carries_the_linked_layers(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for module in (
        "arkor_temporal/worker.py",
        "arkor_temporal/workflows/training_run.py",
        "arkor_temporal/activities/stream.py",
        "arkor_temporal/dev/quickstart.yaml",
        "arkor_temporal/emulator/data/triage.json",
    ):
        assert module in names


def test_installed_commands_answer_help(installed: Path, tmp_path: Path) -> None:
    for argv in (
        [installed / "arkor-temporal", "--help"],
        [installed / "arkor-temporal", "worker", "--help"],
        [installed / "arkor-temporal-worker", "--help"],
        [installed / "arkor-temporal", "emulator", "--help"],
    ):
        done = subprocess.run(
            argv, cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True
        )
        assert done.returncode == 0, (argv, done.stderr)
        assert "usage" in done.stdout.lower()


def test_installed_dev_run_trains_the_built_in_spec(installed: Path, tmp_path: Path) -> None:
    """The main job from the installed package, in a directory that is not the checkout."""
    ports = [str(free_port()) for _ in range(3)]
    done = subprocess.run(
        [
            installed / "arkor-temporal",
            "dev",
            "run",
            "--set",
            "maxSteps=50",
            "--steps-per-second",
            "50",
            "--temporal-port",
            ports[0],
            "--ui-port",
            ports[1],
            "--emulator-port",
            ports[2],
        ],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "completed" in done.stdout
    # The headline: each checkpoint evaluated as it lands, and the best one named.
    assert "eval of checkpoint 25: score" in done.stdout
    assert "eval of checkpoint 50: score" in done.stdout
    assert re.search(r"best checkpoint\s*│\s*step (25|50) \(eval score", done.stdout)
    assert (tmp_path / ".arkor-temporal" / "dev" / "worker.log").exists()
