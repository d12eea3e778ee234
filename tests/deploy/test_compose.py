"""deploy/compose: the Compose specification's schema, Docker Compose's own loader, and the
worker's settings parser, all without a container engine."""

from __future__ import annotations

import importlib.resources
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from arkor_temporal.cli.main import COMMANDS
from arkor_temporal.dev.local import EMULATOR_IDENTITY
from tests.deploy.deploy import COMPOSE_DIR, COMPOSE_FILE, run, tool
from tests.deploy.settings import DeploySettingsError, check_worker_env

ENV_FILES = {
    "emulator": COMPOSE_DIR / "emulator.env",
    "arkor": COMPOSE_DIR / "arkor.env.example",
}
OUR_SERVICES = ("worker", "register-search-attributes")


def compose(compose_file: Path, env_file: Path, *args: str) -> tuple[int, str, str]:
    done = run(
        [
            tool("docker-compose"),
            "-f",
            compose_file,
            "--project-directory",
            COMPOSE_DIR,
            "--env-file",
            env_file,
            "config",
            *args,
        ]
    )
    return done.returncode, done.stdout, done.stderr


@cache
def config(env: str) -> dict[str, Any]:
    """The model Docker Compose builds from the file (interpolated, normalised)."""
    code, out, err = compose(COMPOSE_FILE, ENV_FILES[env], "--format", "json")
    assert code == 0, err
    return json.loads(out)


def check_spec(path: Path) -> tuple[int, str]:
    """check-jsonschema's CLI with its bundled copy of the Compose specification's schema."""
    done = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", path])
    return done.returncode, done.stdout + done.stderr


@cache
def spec_validator() -> jsonschema.Draft202012Validator:
    """The same schema file, in process (the CLI costs half a second a run)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return jsonschema.Draft202012Validator(
        json.loads(vendor.joinpath("compose-spec.json").read_text())
    )


def spec_errors(path: Path) -> list[str]:
    return [
        error.message for error in spec_validator().iter_errors(yaml.safe_load(path.read_text()))
    ]


def test_the_file_matches_the_compose_specification() -> None:
    code, output = check_spec(COMPOSE_FILE)
    assert code == 0, output
    assert spec_errors(COMPOSE_FILE) == []


@pytest.mark.parametrize("env", sorted(ENV_FILES))
def test_docker_compose_loads_it(env: str) -> None:
    code, _, err = compose(COMPOSE_FILE, ENV_FILES[env], "--quiet")
    assert code == 0, err


BROKEN = [
    # an unknown key (a typo of stop_grace_period)
    ("    stop_grace_period: 30s\n", "    stop_grace_period: 30s\n    stop_grace: 30s\n", True),
    # a replica count that is not a number (the schema allows strings, for interpolation)
    ("      replicas: 2\n", "      replicas: two\n", False),
    # a dependency on a service that does not exist (the schema cannot see that; Compose can)
    (
        "      register-search-attributes:\n        condition: service_completed_successfully\n"
        "    environment: *worker-environment\n    deploy:",
        "      register-search-attribute:\n        condition: service_completed_successfully\n"
        "    environment: *worker-environment\n    deploy:",
        False,
    ),
]


@pytest.mark.parametrize(("old", "new", "schema_sees_it"), BROKEN)
def test_a_broken_copy_is_rejected(
    old: str, new: str, schema_sees_it: bool, tmp_path: Path
) -> None:
    text = COMPOSE_FILE.read_text()
    assert text.count(old) == 1, old
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace(old, new))
    code, _, err = compose(broken, ENV_FILES["emulator"], "--quiet")
    assert code != 0 and err, "docker-compose accepted a broken file"
    if schema_sees_it:  # once through the CLI too, as CI's log would show it
        assert check_spec(broken)[0] != 0
    assert bool(spec_errors(broken)) == schema_sees_it


def test_the_stack() -> None:
    services = config("arkor")["services"]
    assert set(services) == {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "register-search-attributes",
        "temporal-ui",
        "worker",
    }, "the emulator runs only with its profile"
    # Every image pinned to a release (the workers' own images to the project's version).
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image}"
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    # One-shots run once, in order: schema, server, namespace, search attributes, workers.
    chain = [
        ("temporal", "temporal-schema", "service_completed_successfully"),
        ("temporal-namespace", "temporal", "service_healthy"),
        ("register-search-attributes", "temporal-namespace", "service_completed_successfully"),
        ("worker", "register-search-attributes", "service_completed_successfully"),
    ]
    for service, dependency, condition in chain:
        assert services[service]["depends_on"][dependency]["condition"] == condition
    for one_shot in ("temporal-schema", "temporal-namespace", "register-search-attributes"):
        assert services[one_shot]["restart"] == "no"


def test_the_search_attributes_are_registered_by_the_project_command() -> None:
    service = config("arkor")["services"]["register-search-attributes"]
    assert service["command"] == ["arkor-temporal", "setup"]
    assert "setup" in {command.name for command in COMMANDS}
    assert service["build"]["target"] == "worker"


def test_the_workers_stop_gracefully_and_scale() -> None:
    worker = config("arkor")["services"]["worker"]
    assert worker["build"]["target"] == "worker"
    assert worker["stop_signal"] == "SIGTERM"
    grace = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
    assert grace and int(grace[1]) >= 30, "longer than the 10 s hand-over, with room"
    assert worker["deploy"]["replicas"] >= 2
    assert "entrypoint" not in worker or worker["entrypoint"] is None, "keep the image's tini"


def test_the_emulator_profile() -> None:
    services = config("emulator")["services"]
    emulator = services["emulator"]
    assert emulator["profiles"] == ["emulator"]
    assert emulator["build"]["target"] == "emulator"
    assert emulator["command"][:7] == [
        "python",
        "-m",
        "arkor_temporal.emulator",
        "--host",
        "0.0.0.0",
        "--port",
        "8787",
    ]
    env = services["worker"]["environment"]
    assert env["ARKOR_TEMPORAL_API_URL"] == "http://emulator:8787"
    identity = (
        env["ARKOR_TEMPORAL_TOKEN"],
        env["ARKOR_TEMPORAL_ORG"],
        env["ARKOR_TEMPORAL_PROJECT"],
    )
    assert identity == (EMULATOR_IDENTITY.token, EMULATOR_IDENTITY.org, EMULATOR_IDENTITY.project)


@pytest.mark.parametrize("env", sorted(ENV_FILES))
@pytest.mark.parametrize("service", OUR_SERVICES)
def test_the_worker_env_is_accepted_by_the_worker(env: str, service: str, tmp_path: Path) -> None:
    environment = config(env)["services"][service]["environment"]
    resolved = check_worker_env(f"compose {service} ({env})", environment, tmp_path)
    assert resolved.temporal.address == "temporal:7233"
    assert resolved.temporal.task_queue == "arkor-training"
    if env == "emulator":
        assert resolved.cloud.base_url == "http://emulator:8787"
    else:
        assert resolved.cloud.base_url == "https://api.arkor.ai"


def test_a_typo_in_the_worker_env_fails(tmp_path: Path) -> None:
    text = COMPOSE_FILE.read_text()
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("  ARKOR_TEMPORAL_WIRE_SCHEMA:", "  ARKOR_TEMPORAL_WIRESCHEMA:"))
    code, out, err = compose(broken, ENV_FILES["emulator"], "--format", "json")
    assert code == 0, err  # Compose cannot know; the worker's settings check does
    environment = json.loads(out)["services"]["worker"]["environment"]
    with pytest.raises(DeploySettingsError, match="ARKOR_TEMPORAL_WIRESCHEMA"):
        check_worker_env("broken compose", environment, tmp_path)


def test_secrets_come_from_the_environment_only() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    anchor = raw["x-worker-environment"]
    assert re.fullmatch(r"\$\{ARKOR_TEMPORAL_TOKEN:\?[^}]+\}", anchor["ARKOR_TEMPORAL_TOKEN"])
    for service in raw["services"].values():
        for value in (service.get("environment") or {}).values():
            assert "emu-token" not in str(value)


def test_referenced_files_exist() -> None:
    for name, service in config("emulator")["services"].items():
        build = service.get("build")
        if build:
            assert (Path(build["context"]) / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).is_file(), f"{name}: {volume['source']}"


def test_the_setup_scripts_pass_shellcheck(tmp_path: Path) -> None:
    scripts = sorted((COMPOSE_DIR / "temporal").glob("*.sh"))
    assert scripts
    done = run([tool("shellcheck"), "--shell=sh", "--severity=style", *scripts])
    assert done.returncode == 0, done.stdout
    broken = tmp_path / "broken.sh"
    text = (COMPOSE_DIR / "temporal" / "setup-postgres.sh").read_text()
    assert text.count('nc -z "$POSTGRES_SEEDS" "$PORT"') == 1
    broken.write_text(
        text.replace('nc -z "$POSTGRES_SEEDS" "$PORT"', "nc -z $POSTGRES_SEEDS $PORT")
    )
    done = run([tool("shellcheck"), "--shell=sh", "--severity=style", broken])
    assert done.returncode != 0 and "SC2086" in done.stdout
