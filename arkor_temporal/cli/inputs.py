"""Command-line values turned into typed ones, or refused with exit code 2 before any work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from arkor_temporal.cli.app import EXIT_BAD_INPUT, fail
from arkor_temporal.core.spec import RunSpec, SpecError, load_spec

T = TypeVar("T")


def parse_flag(flag: str, parse: Callable[[str], T], text: str) -> T:
    """``parse(text)``; a ValueError becomes an error naming ``flag``."""
    try:
        return parse(text)
    except ValueError as exc:
        fail(f"{flag}: {exc}", EXIT_BAD_INPUT)


def load_spec_or_exit(path: Path, overrides: tuple[str, ...]) -> RunSpec:
    """The spec at ``path`` with ``--set`` overrides applied; every problem listed, exit 2."""
    try:
        return load_spec(path, list(overrides))
    except SpecError as exc:
        fail(exc, EXIT_BAD_INPUT)


def overrides_option(help: str = "Override a spec field.") -> Callable[[Any], Any]:
    """``--set KEY=VALUE`` (repeatable), collected as ``overrides``."""
    return click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=help)


spec_argument = click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
