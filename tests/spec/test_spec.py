"""The run spec: every createTrainer field, strict validation, clear errors, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arkor_temporal.core.notifications import NotifyEvent
from arkor_temporal.core.spec import (
    RunSpec,
    SpecError,
    apply_overrides,
    load_spec,
    parse_spec,
    read_yaml,
    spec_data,
)

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


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"maxStep": 10}, "maxStep: unknown field; did you mean maxSteps?"),
        ({"max_step": 10}, "max_step: unknown field; did you mean maxSteps?"),
        ({"learningrate": 0.1}, "learningrate: unknown field; did you mean learningRate?"),
        ({"steps": 10}, "steps: unknown field; did you mean maxSteps, saveSteps or evalSteps?"),
        (
            {"lora": {"r": 8, "alpha": 16, "maxlength": 9}},
            "lora.maxlength: unknown field; did you mean maxLength?",
        ),
        (
            {"dataset": {"type": "huggingface", "name": "x", "splt": "a"}},
            "dataset.splt: unknown field; did you mean split?",
        ),
        (
            {"stopRules": {"rollingMean": {"windw": 5, "ceiling": 2}}},
            "stopRules.rollingMean.windw: unknown field; did you mean window?",
        ),
        (
            {"hooks": {"onLog": {"importPath": "json:dumps", "timeout": 5}}},
            "hooks.onLog.timeout: unknown field; did you mean timeoutSeconds?",
        ),
    ],
)
def test_unknown_field_suggests_the_field_meant(fields: dict[str, object], problem: str) -> None:
    found = problems({**BASE, **fields})
    assert problem in found, found


def test_unknown_field_without_a_close_one_says_to_check_the_spelling() -> None:
    [problem] = problems({**BASE, "zzz": 1})
    assert problem == "zzz: unknown field; check its spelling (camelCase, as in createTrainer)"


def test_both_spellings_of_a_field_are_refused_as_given_twice() -> None:
    [problem] = problems({**BASE, "maxSteps": 10, "max_steps": 20})
    assert problem.startswith("max_steps: given twice, as maxSteps and as max_steps")
    assert "unknown" not in problem
    [nested] = problems({**BASE, "lora": {"r": 8, "alpha": 16, "maxLength": 9, "max_length": 9}})
    assert nested.startswith("lora.max_length: given twice, as maxLength and as max_length")


def test_locations_are_paths_in_the_file_without_union_tags() -> None:
    found = problems({**BASE, "dataset": {"type": "blob", "url": "ftp://x"}})
    assert [p.split(":")[0] for p in found] == ["dataset.url"]
    [split] = problems({**BASE, "datasetSplit": {"seed": 1}})
    assert split.startswith("datasetSplit.enabled: required field is missing")


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


def test_yaml_and_json_errors_name_the_file_line_and_column(tmp_path: Path) -> None:
    for name, text, where in [
        ("bad.yaml", "name: r\nmodel: [unclosed\n", ":3:1: expected ',' or ']'"),
        ("bad.json", '{"name": }', ":1:10: Expecting value"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SpecError) as raised:
            load_spec(path)
        [problem] = raised.value.problems
        assert f"{path}{where}" in problem
        assert "<unicode string>" not in problem and "\n" not in problem


def test_a_key_given_twice_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("name: r\nmaxSteps: 10\nmaxSteps: 20\n")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert f"{path}:3:1: found the key 'maxSteps' twice" in raised.value.problems[0]


def test_yaml_is_read_with_yaml_1_2_booleans() -> None:
    words = ["on", "off", "yes", "no", "y", "n", "On", "OFF", "Yes", "NO"]
    data = read_yaml("\n".join(f"{word}: {word}" for word in words) + "\nt: true\nf: False\n")
    assert data == {**{word: word for word in words}, "t": True, "f": False}
    assert read_yaml("when: 2026-11-29") == {"when": "2026-11-29"}  # a date is text, as in JSON


def test_a_merge_key_may_still_override_what_it_brings() -> None:
    assert read_yaml("base: &b {r: 8, alpha: 16}\nlora: {<<: *b, r: 4}")["lora"] == {
        "r": 4,
        "alpha": 16,
    }


def test_notification_on_keys_are_read_as_on() -> None:
    spec = load_spec(EXAMPLES / "evaluated.yaml")
    assert [n.on for n in spec.notifications][:2] == [
        [
            NotifyEvent.COMPLETED,
            NotifyEvent.FAILED,
            NotifyEvent.STOPPED,
            NotifyEvent.EVAL_REGRESSION,
        ],
        [NotifyEvent.FAILED, NotifyEvent.CANCELLED],
    ]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_overrides_change_only_what_they_set_in_every_example(path: Path) -> None:
    # README: schedule create ... --set 'name=nightly-{date}'
    overridden = load_spec(path, ["name=nightly-{date}", "maxSteps=7"])
    assert overridden == load_spec(path).model_copy(
        update={"name": "nightly-{date}", "max_steps": 7}
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_normalized_spec_reads_back_as_the_same_spec(path: Path) -> None:
    spec = load_spec(path)
    data = spec_data(spec)
    assert parse_spec(read_yaml(json.dumps(data))) == spec
    assert "max_steps" not in data and all(value is not None for value in data.values())


def test_overrides_parse_values_and_nested_keys() -> None:
    data = apply_overrides(BASE, ["maxSteps=20", "lora.r=8", "dryRun=true"])
    assert data["maxSteps"] == 20 and data["lora"] == {"r": 8} and data["dryRun"] is True
    assert "maxSteps" not in BASE


def test_overrides_reach_list_entries_and_keep_the_file_s_spelling() -> None:
    data = {**BASE, "maxSteps": 100, "notifications": [{"kind": "slack", "urlEnv": "S"}]}
    changed = apply_overrides(data, ["max_steps=5", "notifications.0.on=[failed]", "lora.r=8"])
    assert changed["maxSteps"] == 5 and "max_steps" not in changed
    assert changed["notifications"][0]["on"] == ["failed"] and changed["lora"] == {"r": 8}
    assert apply_overrides({**BASE, "lora": None}, ["lora.r=8"])["lora"] == {"r": 8}
    assert "on" not in data["notifications"][0]  # the data given is left alone


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("notifications.3.on=[failed]", "notifications.3.on: notifications is a list; its entries"),
        ("name.first=x", "name.first: name is not a section"),
        ("name=[x", "name: '[x' is not a YAML value (expected ',' or ']'"),
        ("lora..r=8", "'lora..r=8': expected KEY=VALUE"),
    ],
)
def test_bad_overrides_are_explained(override: str, problem: str) -> None:
    data = {**BASE, "notifications": [{"kind": "slack", "urlEnv": "S"}]}
    with pytest.raises(SpecError) as raised:
        apply_overrides(data, [override])
    assert raised.value.problems[0].startswith(problem)


def test_override_without_equals_is_explained() -> None:
    with pytest.raises(SpecError) as raised:
        apply_overrides(BASE, ["maxSteps"])
    assert "KEY=VALUE" in str(raised.value)
