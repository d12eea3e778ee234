"""``spec check`` and ``spec schema``, and ``--set`` on every example through each command."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from arkor_temporal.cli.spec import spec
from arkor_temporal.core.spec import load_spec, parse_spec, read_yaml, spec_data, spec_json_schema
from tests.support.cli import Command, write_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
NIGHTLY = "name=nightly-{date}"  # README, "Scheduled retraining"
UNREACHABLE = "127.0.0.1:1"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
async def test_spec_check_prints_the_spec_as_a_run_receives_it(
    command: Command, path: Path
) -> None:
    done = await command("spec", "check", str(path), "--set", NIGHTLY, "--set", "maxSteps=7")
    assert done.code == 0, done.stderr
    expected = load_spec(path, [NIGHTLY, "maxSteps=7"])
    printed = read_yaml(done.stdout)
    assert printed == spec_data(expected)
    assert parse_spec(printed) == expected  # the output is a spec itself
    assert f"{path}: valid run spec 'nightly-{{date}}'" in done.stderr


async def test_spec_check_json(command: Command) -> None:
    path = EXAMPLES[0]
    done = await command("spec", "check", str(path), "--json")
    assert done.code == 0, done.stderr
    assert done.json() == spec_data(load_spec(path))


async def test_spec_check_refuses_with_the_text_run_start_gives(
    command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxStep=10, learning_rate=0.1, learningRate=0.2)
    checked = await command("spec", "check", str(spec), "--set", "dataset.splt=train")
    started = await command("run", "start", str(spec), "--set", "dataset.splt=train")
    assert (checked.code, started.code) == (2, 2)
    assert checked.stdout == ""
    assert checked.stderr == started.stderr
    assert "maxStep: unknown field; did you mean maxSteps?" in checked.stderr
    assert "learning_rate: given twice, as learningRate and as learning_rate" in checked.stderr
    assert "dataset.splt: unknown field; did you mean split?" in checked.stderr


async def test_spec_check_names_the_file_of_a_yaml_error(command: Command, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: r\nmodel: [unclosed\n")
    done = await command("spec", "check", str(path))
    assert done.code == 2
    assert f"not valid YAML: {path}:3:1: expected ',' or ']'" in done.stderr
    assert "<unicode string>" not in done.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
async def test_run_start_takes_set_on_every_example(command: Command, path: Path) -> None:
    # Exit 4, not 2: the spec was accepted and only then Temporal found unreachable.
    done = await command("run", "start", str(path), "--set", NIGHTLY, "--address", UNREACHABLE)
    assert done.code == 4, done.stderr
    assert "invalid run spec" not in done.stderr


async def test_schedule_create_takes_set_on_a_spec_with_notifications(command: Command) -> None:
    [path] = [p for p in EXAMPLES if p.stem == "evaluated"]
    name = f"spec-{uuid.uuid4().hex[:8]}"
    done = await command(
        "schedule", "create", name, str(path), "--every", "1d", "--paused", "--set", NIGHTLY
    )
    try:
        assert done.code == 0, done.stderr
    finally:
        await command("schedule", "delete", name)


async def test_spec_schema_prints_the_schema_every_example_meets(command: Command) -> None:
    done = await command("spec", "schema")
    assert done.code == 0, done.stderr
    schema = done.json()
    assert schema == spec_json_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    validator = Draft7Validator(schema)
    for path in EXAMPLES:
        assert list(validator.iter_errors(read_yaml(path.read_text()))) == [], path.name
    assert list(validator.iter_errors({**read_yaml(EXAMPLES[0].read_text()), "maxStep": 1}))


def test_the_spec_commands_take_no_connection_flags() -> None:
    for command in spec.commands.values():
        assert not {"address", "namespace", "task_queue"} & {p.name for p in command.params}
