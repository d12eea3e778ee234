"""What tests/deploy reads: the files under deploy/, the validators, and small readers.

The validators are the dev extra's own binaries (hadolint, docker-compose,
check-jsonschema, kubernetes-validate, shellcheck), found beside this interpreter;
none needs a container engine or the network.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
HADOLINT_CONFIG = DOCKER / "hadolint.yaml"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"
K8S_BASE = KUBERNETES / "base"
K8S_OVERLAYS = KUBERNETES / "overlays"
K8S_SECRETS = KUBERNETES / "secrets"


def tool(name: str) -> Path:
    """A validator installed by the dev extra, beside this interpreter (never skipped)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]' (see pyproject.toml)")
    return path


def run(args: Sequence[str | Path], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a validator with a bare environment: nothing of the caller's leaks into it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def kubernetes_files() -> list[Path]:
    return sorted(KUBERNETES.rglob("*.yaml"))


# ---- Dockerfile ------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str  # upper case
    arguments: str  # the rest of the (joined) line
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or None for the shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)
    parent: Stage | None = None

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str, *, inherited: bool = True) -> Instruction | None:
        found = self.all(keyword)
        if found:
            return found[-1]
        return self.parent.last(keyword) if inherited and self.parent else None

    def env(self) -> dict[str, str]:
        """ENV as the stage's containers see it (a parent stage's first)."""
        values = self.parent.env() if self.parent else {}
        for instruction in self.all("ENV"):
            for word in shlex.split(instruction.arguments):
                name, sep, value = word.partition("=")
                assert sep, f"Dockerfile line {instruction.line}: use ENV NAME=value"
                values[name] = value
        return values


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions grouped by stage; continuation lines joined, comments dropped."""
    logical: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        logical.append((start, pending + raw))
        pending = ""
    stages: list[Stage] = []
    for number, line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip(), number)
        if instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            parent = next((s for s in stages if s.name == words[0]), None)
            stages.append(Stage(words[0], name, parent=parent))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            assert instruction.keyword == "ARG", f"line {number}: {keyword} before FROM"
    return stages


def dockerfile_stages() -> dict[str, Stage]:
    return {s.name or s.base: s for s in parse_dockerfile(DOCKERFILE.read_text())}


# ---- Kubernetes: kustomize, as far as these manifests use it -----------------------------

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches"}


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize directory`` for the subset the manifests use.

    ``resources`` (files and directories) and ``patches`` that merge into a ConfigMap's
    ``data``. Anything else fails here, so a manifest can never use a feature this
    renderer would silently get wrong.
    """
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    extra = set(kustomization) - KUSTOMIZATION_KEYS
    assert not extra, f"{directory}: kustomization uses {extra}; teach render_kustomization"
    assert kustomization["kind"] == "Kustomization"
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        assert path.exists(), f"{directory}/kustomization.yaml: {resource} does not exist"
        objects += render_kustomization(path) if path.is_dir() else load_documents(path)
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, f"{directory}: patches take a path only here"
        [change] = load_documents(directory / patch["path"])
        assert change["kind"] == "ConfigMap", (
            f"{directory}/{patch['path']}: only ConfigMap patches are rendered by the tests"
        )
        [target] = [
            o
            for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"]["name"] == change["metadata"]["name"]
        ]
        data = target.setdefault("data", {})
        for key, value in change.get("data", {}).items():
            if value is None:
                data.pop(key, None)  # strategic merge: null deletes
            else:
                data[key] = value
    return objects


def one(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    [found] = [
        o for o in objects if o["kind"] == kind and name in (None, o["metadata"].get("name"))
    ]
    return found


def container_env(
    container: Mapping[str, Any],
    objects: Sequence[dict[str, Any]],
    secrets: Sequence[dict[str, Any]],
) -> dict[str, str]:
    """The environment Kubernetes gives ``container``: envFrom in order, then env.

    ``secrets`` stand in for the Secrets created outside the manifests (their examples).
    """
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            ref, pool, key = source["configMapRef"], objects, "data"
            kind = "ConfigMap"
        else:
            ref, pool, key = source["secretRef"], secrets, "stringData"
            kind = "Secret"
        found = [o for o in pool if o["kind"] == kind and o["metadata"]["name"] == ref["name"]]
        if not found:
            assert ref.get("optional"), f"{kind} {ref['name']} is referenced but not defined"
            continue
        env.update({k: str(v) for k, v in found[0].get(key, {}).items()})
    for item in container.get("env", []):
        assert "value" in item, f"env {item['name']}: only literal values are checked here"
        env[item["name"]] = str(item["value"])
    return env


def mounted_paths(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, str]:
    """mountPath -> the Secret it shows, for the container's Secret volumes."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    return {
        m["mountPath"]: volumes[m["name"]]["secret"]["secretName"]
        for m in container.get("volumeMounts", [])
        if "secret" in volumes[m["name"]]
    }


HOST_PORT = re.compile(r"^(?P<host>[^\s:]*|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
