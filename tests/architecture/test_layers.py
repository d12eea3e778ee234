"""The layer contract: imports point one way, so the tree stays the picture of the design.

Read from the source (no import runs): every ``import`` and ``from ... import``,
at any depth, including those under ``TYPE_CHECKING``. A wrong arrow fails here
with the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("arkor_temporal", "arkor_cloud")

# The repository's top-level folders and the installed names they have (links in arkor_temporal/).
SOURCES = {
    "arkor_temporal": ROOT / "arkor_temporal",
    "arkor_temporal.workflows": ROOT / "workflows",
    "arkor_temporal.activities": ROOT / "activities",
    "arkor_cloud": ROOT / "arkor_cloud",
}
LINKS = {ROOT / "arkor_temporal" / name for name in ("workflows", "activities", "worker.py")}

CORE = "arkor_temporal.core"
WORKFLOWS = "arkor_temporal.workflows"
ACTIVITIES = "arkor_temporal.activities"
CODEC = "arkor_temporal.codec"
# Metrics and tracing: nothing of ours, so the activities, the client layer and the worker
# can all use it.
TELEMETRY = "arkor_temporal.telemetry"
# Helpers with no project imports.
LEAVES = ("arkor_temporal.logs", "arkor_temporal.process", "arkor_temporal.health")


@dataclass(frozen=True)
class Layer:
    prefix: str
    may_import: tuple[str, ...]  # project modules (prefixes) this layer may import
    third_party: tuple[str, ...] | None = None  # None: any installed library


LAYERS = (
    Layer("arkor_cloud", ("arkor_cloud",)),
    # The neutral bottom layer: pure models and functions, no I/O, nothing of ours above it.
    Layer(
        CORE,
        (CORE,),
        third_party=(
            "pydantic",
            "temporalio.common",
            "temporalio.exceptions",
            "temporalio.workflow",
            "yaml",
            "jsonschema",
        ),
    ),
    Layer(WORKFLOWS, (CORE, WORKFLOWS)),
    Layer(ACTIVITIES, (CORE, ACTIVITIES, "arkor_cloud", TELEMETRY, *LEAVES)),
    # Payload encryption and its codec server: nothing of ours, so any connection can use it.
    Layer(CODEC, (CODEC,)),
    Layer(TELEMETRY, (TELEMETRY,)),
    Layer("arkor_temporal.client", (CORE, CODEC, TELEMETRY, "arkor_temporal.client", *LEAVES)),
    Layer("arkor_temporal.dev", (CORE, "arkor_temporal.client", "arkor_temporal.dev")),
    Layer(
        "arkor_temporal.cli",
        (
            CORE,
            CODEC,
            TELEMETRY,
            "arkor_temporal.client",
            "arkor_temporal.dev",
            "arkor_temporal.cli",
            *LEAVES,
        ),
    ),
    # The stand-in for the Arkor cloud knows nothing of the orchestrator.
    Layer("arkor_temporal.emulator", ("arkor_temporal.emulator", *LEAVES)),
    # The worker's start-up checks: the Arkor client only.
    Layer("arkor_temporal.startup", ("arkor_cloud",)),
    # The composition root: the only module that puts workflows and activities together.
    Layer(
        "arkor_temporal.worker",
        (
            CORE,
            WORKFLOWS,
            ACTIVITIES,
            "arkor_temporal.client",
            "arkor_temporal.startup",
            "arkor_cloud",
            TELEMETRY,
            *LEAVES,
        ),
    ),
    Layer("arkor_temporal.__main__", ("arkor_temporal.cli",)),
    *(Layer(leaf, ()) for leaf in LEAVES),
    Layer("arkor_temporal", ()),  # the package's own __init__
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    path: Path
    line: int
    target: str  # the imported module
    passed_through: bool  # inside ``with workflow.unsafe.imports_passed_through():``


def module_files() -> dict[str, Path]:
    """Every module of the installed packages, by import name, read where it lives."""
    modules = {"arkor_temporal.worker": ROOT / "worker.py"}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            if any(link in path.parents for link in LINKS) or path in LINKS:
                continue
            parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_pass_through(node: ast.With) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call)
        and ast.unparse(item.context_expr.func).endswith("imports_passed_through")
        for item in node.items
    )


def imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, passed_through: bool) -> None:
        if isinstance(node, ast.With) and _is_pass_through(node):
            passed_through = True
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``pkg.name``: a submodule or an attribute; resolved by ``violation``.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            found.append(Import(module, path, getattr(node, "lineno", 0), target, passed_through))
        for child in ast.iter_child_nodes(node):
            visit(child, passed_through)

    visit(tree, False)
    return found


def layer_of(module: str) -> Layer:
    return next(
        layer for layer in LAYERS if module == layer.prefix or module.startswith(layer.prefix + ".")
    )


def _within(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def violation(found: Import, known: set[str]) -> str | None:
    """Why this import breaks the contract, or None."""
    layer = layer_of(found.source)
    top = found.target.split(".")[0]
    if top in PACKAGES:
        target = found.target
        while target not in known and "." in target:
            target = target.rpartition(".")[0]  # ``from module import name``: the module
        if _within(target, layer.may_import):
            return None
        if layer.prefix == WORKFLOWS and _within(target, (ACTIVITIES,)) and found.passed_through:
            return None  # activity method references, for execute_activity_method
        return f"{layer.prefix} must not import {target}"
    if top in sys.stdlib_module_names or top == "__future__" or layer.third_party is None:
        return None
    if _within(found.target, layer.third_party):
        return None
    return f"{layer.prefix} may use only {', '.join(layer.third_party)}, not {found.target}"


def contract_violations() -> list[str]:
    files = module_files()
    known = set(files)
    problems = []
    for module, path in files.items():
        for found in imports_of(module, path):
            why = violation(found, known)
            if why is not None:
                problems.append(f"{path.relative_to(ROOT)}:{found.line}: {why}")
    return problems


def test_every_module_belongs_to_a_layer() -> None:
    for module in module_files():
        assert layer_of(module) is not None


def test_imports_follow_the_layers() -> None:
    assert contract_violations() == []


@pytest.mark.parametrize("folder", ["arkor_temporal", "arkor_cloud", "workflows", "activities"])
def test_no_module_imports_the_old_top_level_names(folder: str) -> None:
    """``workflows``, ``activities``, ``worker`` and ``emulator`` exist only inside the package."""
    old = {"workflows", "activities", "worker", "emulator"}
    bad = []
    for path in [*(ROOT / folder).rglob("*.py"), ROOT / "worker.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            bad += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] in old]
    assert bad == []


def test_a_wrong_arrow_is_caught() -> None:
    """The checker itself: an activity importing the workflow package is refused."""
    wrong = Import(
        "arkor_temporal.activities.jobs", ROOT / "activities/jobs.py", 1, WORKFLOWS, False
    )
    assert violation(wrong, set(module_files())) == f"{ACTIVITIES} must not import {WORKFLOWS}"
    passed = Import(
        "arkor_temporal.workflows.training_run", ROOT / "x.py", 1, f"{ACTIVITIES}.jobs", True
    )
    assert violation(passed, set(module_files())) is None
    unpassed = Import(
        "arkor_temporal.workflows.training_run", ROOT / "x.py", 1, f"{ACTIVITIES}.jobs", False
    )
    assert violation(unpassed, set(module_files())) is not None
