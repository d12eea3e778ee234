"""The run spec: every createTrainer field, strict validation, clear errors, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from arkor_temporal.core.spec import RunSpec, SpecError, apply_overrides, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE = {
    "name": "r",
    "model": "unsloth/gemma-4-E4B-it",
    "dataset": {"type": "huggingface", "name": "x"},
}


def problems(data: object) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_spec(data, "test.yaml")
    return raised.value.problems


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_are_valid(path: Path) -> None:
    assert isinstance(load_spec(path), RunSpec)


def test_full_spec_builds_the_sdk_job_config() -> None:
    config = load_spec(EXAMPLES / "full.yaml").job_config()
    assert config == {
        "model": "unsloth/gemma-4-E4B-it",
        "datasetSource": {
            "type": "huggingface",
            "name": "arkorlab/triage-demo",
            "split": "train",
            "subset": "default",
        },
        "loraR": 16,
        "loraAlpha": 32,
        "maxLength": 2048,
        "loadIn4bit": True,
        "maxSteps": 300,
        "numTrainEpochs": 1,
        "learningRate": 0.0002,
        "batchSize": 4,
        "optim": "adamw_8bit",
        "lrSchedulerType": "linear",
        "weightDecay": 0.01,
        "dryRun": False,
        "warmupSteps": 10,
        "loggingSteps": 5,
        "saveSteps": 50,
        "evalSteps": 25,
        "trainOnResponsesOnly": True,
        "datasetFormat": {"type": "chatml"},
        "datasetSplit": "train",
    }


def test_unset_fields_are_not_sent() -> None:
    assert parse_spec(BASE).job_config() == {
        "model": "unsloth/gemma-4-E4B-it",
        "datasetSource": {"type": "huggingface", "name": "x"},
    }


def test_snake_case_is_accepted_too() -> None:
    spec = parse_spec({**BASE, "max_steps": 10, "learning_rate": 0.1})
    assert spec.job_config()["maxSteps"] == 10


def test_unknown_field_names_the_field() -> None:
    [problem] = problems({**BASE, "maxStep": 10})
    assert problem.startswith("maxStep: unknown field")


def test_missing_fields_are_each_named() -> None:
    found = problems({"name": "r"})
    assert any(p.startswith("model: required") for p in found)
    assert any(p.startswith("dataset: required") for p in found)


def test_unsupported_model_lists_the_supported_ones() -> None:
    [problem] = problems({**BASE, "model": "llama"})
    assert "model" in problem and "unsloth/gemma-4-E4B-it" in problem


def test_bad_values_name_their_field() -> None:
    found = problems({**BASE, "maxSteps": 0, "lora": {"r": 8}})
    assert any(p.startswith("maxSteps:") for p in found)
    assert any(p.startswith("lora.alpha: required") for p in found)


def test_dataset_type_must_be_known() -> None:
    [problem] = problems({**BASE, "dataset": {"type": "file", "path": "x"}})
    assert problem.startswith("dataset") and "huggingface" in problem


def test_literal_blob_token_is_refused_with_the_fix() -> None:
    [problem] = problems(
        {**BASE, "dataset": {"type": "blob", "url": "https://x/y", "token": "s3cr3t"}}
    )
    assert "tokenEnv" in problem
    assert "s3cr3t" not in problem


def test_blob_token_is_a_reference_and_never_in_the_job_config() -> None:
    spec = parse_spec(
        {**BASE, "dataset": {"type": "blob", "url": "https://x/y", "tokenEnv": "TOK"}}
    )
    assert spec.blob_token_env == "TOK"
    assert spec.job_config()["datasetSource"] == {"type": "blob", "url": "https://x/y"}


def test_backend_keys_cannot_shadow_spec_fields() -> None:
    [problem] = problems({**BASE, "backend": {"maxSteps": 5}})
    assert problem.startswith("backend:") and "maxSteps" in problem


def test_backend_keys_are_passed_through() -> None:
    spec = parse_spec({**BASE, "backend": {"emulator": {"scenario": "fail", "atStep": 3}}})
    assert spec.job_config()["emulator"] == {"scenario": "fail", "atStep": 3}


def test_not_a_mapping() -> None:
    assert problems(["a"]) == ["(spec): must be a mapping of fields, such as name: and model:"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec(tmp_path / "nope.yaml")
    assert "file not found" in str(raised.value)


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert "not valid YAML" in str(raised.value)


def test_overrides_parse_values_and_nested_keys() -> None:
    data = apply_overrides(BASE, ["maxSteps=20", "lora.r=8", "dryRun=true"])
    assert data["maxSteps"] == 20 and data["lora"] == {"r": 8} and data["dryRun"] is True
    assert "maxSteps" not in BASE


def test_override_without_equals_is_explained() -> None:
    with pytest.raises(SpecError) as raised:
        apply_overrides(BASE, ["maxSteps"])
    assert "KEY=VALUE" in str(raised.value)
