"""``arkor-temporal spec``: check a spec file, print its JSON Schema; no Temporal needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from arkor_temporal.cli.app import errors, json_option
from arkor_temporal.cli.inputs import load_spec_or_exit, overrides_option, spec_argument
from arkor_temporal.core.spec import spec_data, spec_json_schema


@click.group()
def spec() -> None:
    """Check spec files and print their JSON Schema (no Temporal needed)."""


class _PlainDumper(yaml.SafeDumper):
    """YAML without ``&id001`` anchors where two fields hold equal data."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@spec.command("check")
@spec_argument
@overrides_option("Override a spec field as `run start` does, e.g. maxSteps=200 (repeatable).")
@json_option
def spec_check(spec_path: Path, overrides: tuple[str, ...], as_json: bool) -> None:
    """Validate SPEC (with --set applied) and print it as a run would receive it.

    The output is camelCase with every default filled in and unset fields left
    out; it is itself a valid spec. Exit 0 when SPEC is valid, 2 with each
    problem (the same text `run start` gives) when it is not. Starts nothing.
    """
    checked = load_spec_or_exit(spec_path, overrides)
    data = spec_data(checked)
    if as_json:
        click.echo(json.dumps(data))
    else:
        text = yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
        click.echo(text, nl=False)
    errors.print(f"{spec_path}: valid run spec {checked.name!r}", highlight=False, soft_wrap=True)


@spec.command("schema")
def spec_schema() -> None:
    """Print the JSON Schema (draft-07) of spec files, for editors and linters.

    Save it and point VS Code's YAML extension at it with a first line
    `# yaml-language-server: $schema=arkor-spec.schema.json` in a spec file.
    """
    click.echo(json.dumps(spec_json_schema(), indent=2))
