"""The spec's JSON Schema (``arkor-temporal spec schema``), which editors check spec files with."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from arkor_temporal.core.spec import (
    SCHEMA_DIALECT,
    RunSpec,
    SpecError,
    load_spec,
    parse_spec,
    read_yaml,
    spec_data,
    spec_json_schema,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
SCHEMA = spec_json_schema()
VALIDATOR = Draft7Validator(SCHEMA)
BASE = {
    "name": "r",
    "model": "unsloth/gemma-4-E4B-it",
    "dataset": {"type": "huggingface", "name": "x"},
}


def schema_problems(data: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(data)]


def loader_accepts(data: Any) -> bool:
    try:
        parse_spec(data)
    except SpecError:
        return False
    return True


def test_schema_is_a_draft_07_schema_an_editor_can_show() -> None:
    # VS Code's YAML extension validates with draft-07 only.
    assert SCHEMA["$schema"] == SCHEMA_DIALECT == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["title"] == "Arkor run spec" and SCHEMA["description"]
    undescribed = [
        key for key, field in SCHEMA["properties"].items() if not field.get("description")
    ]
    assert undescribed == []
    assert SCHEMA["properties"]["maxSteps"]["title"] == "Max steps"
    newer = {"prefixItems", "$dynamicRef", "unevaluatedProperties", "dependentRequired"}
    assert not newer & set(json.dumps(SCHEMA).replace('"', " ").split())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_valid_under_the_schema(path: Path) -> None:
    assert schema_problems(read_yaml(path.read_text())) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_normalized_example_is_valid_under_the_schema(path: Path) -> None:
    assert schema_problems(spec_data(load_spec(path))) == []


@pytest.mark.parametrize(
    "change",
    [
        {"maxStep": 10},  # unknown at the top
        {"lora": {"r": 8, "alpha": 16, "rank": 8}},  # unknown in a section
        {"dataset": {"type": "huggingface", "name": "x", "token": "s3cr3t"}},
        {"model": "llama"},
        {"deadlines": {"maxDuration": "soon"}},
        {"notifications": [{"kind": "slack", "urlEnv": "S", "on": ["sometimes"]}]},
        {"notifications": [{"kind": "slack"}]},  # a required field, in neither spelling
    ],
)
def test_what_the_loader_refuses_the_schema_refuses(change: dict[str, Any]) -> None:
    data = {**BASE, **change}
    assert not loader_accepts(data)
    assert schema_problems(data) != []


@pytest.mark.parametrize(
    "change",
    [
        {"max_steps": 10, "learning_rate": 0.1},  # snake_case works too
        {"lora": {"r": 8, "alpha": 16, "load_in_4bit": True}},
        {"hooks": {"onStarted": "json:dumps", "on_completed": {"import_path": "json:dumps"}}},
        {"deadlines": {"maxDuration": "1h30m", "max_queued": 600}},
        {"warmupSteps": {"ratio": 0.1}, "datasetSplit": {"enabled": True, "testSize": 0.1}},
        {"notifications": [{"kind": "slack", "url_env": "S", "on": ["failed"]}]},
    ],
)
def test_what_the_loader_takes_the_schema_takes(change: dict[str, Any]) -> None:
    data = {**BASE, **change}
    assert loader_accepts(data)
    assert schema_problems(data) == []


def test_snake_case_spellings_are_not_offered_twice_for_completion() -> None:
    properties = SCHEMA["properties"]
    assert "maxSteps" in properties and "max_steps" not in properties
    assert "^max_steps$" in SCHEMA["patternProperties"]


def test_building_the_schema_changes_nothing_pydantic_gives_out() -> None:
    before = copy.deepcopy(RunSpec.model_json_schema(by_alias=True))
    spec_json_schema()
    assert RunSpec.model_json_schema(by_alias=True) == before
