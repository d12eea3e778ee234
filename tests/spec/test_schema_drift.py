"""Both generations of the job config (docs/protocol.md §14.13): what the spec takes, what
each wire schema sends, and the worker setting that picks one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from arkor_cloud import ArkorClient, ConfigurationError
from arkor_temporal.activities.context import CloudContext, wire_schema_from_env
from arkor_temporal.activities.jobs import JobActivities
from arkor_temporal.core.models import StartJobInput
from arkor_temporal.core.names import FailureType
from arkor_temporal.core.spec import RunSpec, SpecError, WireSchema, parse_spec
from tests.support.scripted import SETTINGS, job

BASE = {
    "name": "r",
    "model": "unsloth/gemma-4-E4B-it",
    "dataset": {"type": "huggingface", "name": "x"},
}
STEP_FIELDS = ("warmupSteps", "loggingSteps", "saveSteps", "evalSteps")


def problems(**fields: Any) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_spec({**BASE, **fields})
    return raised.value.problems


def config(wire_schema: WireSchema = WireSchema.SDK, **fields: Any) -> dict[str, Any]:
    sent = parse_spec({**BASE, **fields}).job_config(wire_schema)
    return {k: v for k, v in sent.items() if k not in ("model", "datasetSource")}


# --- what the spec takes ---------------------------------------------------------------------


@pytest.mark.parametrize("key", STEP_FIELDS)
@pytest.mark.parametrize("value", [25, {"steps": 25}, {"ratio": 0.1}, {"ratio": 1}])
def test_step_settings_take_a_number_steps_or_a_ratio(key: str, value: Any) -> None:
    assert config(**{key: value}) == {key: value}


def test_zero_warmup_steps_means_no_warmup() -> None:
    assert config(warmupSteps=0) == {"warmupSteps": 0}
    assert config(warmupSteps={"steps": 0}) == {"warmupSteps": {"steps": 0}}


@pytest.mark.parametrize("key", STEP_FIELDS[1:])
@pytest.mark.parametrize(
    "value",
    [
        0,
        -5,
        True,
        0.5,
        "25",
        {"steps": 0},
        {"steps": 2.5},
        {"ratio": 0},
        {"ratio": 1.5},
        {"ratio": True},
        {"steps": 5, "ratio": 0.1},
        {"step": 5},
        [25],
    ],
)
def test_bad_step_settings_name_the_field_and_the_three_forms(key: str, value: Any) -> None:
    [problem] = problems(**{key: value})
    assert problem.startswith(f"{key}: got ")
    assert "whole number of steps (1 or more), {steps: N}, or {ratio: x}" in problem


def test_negative_warmup_is_refused() -> None:
    [problem] = problems(warmupSteps=-1)
    assert problem.startswith("warmupSteps: got -1") and "(0 or more)" in problem


@pytest.mark.parametrize(
    "value",
    [
        {"enabled": True},
        {"enabled": False, "testSize": 0.2, "seed": 7},
        {"enabled": True, "test_size": 0.25},
    ],
)
def test_dataset_split_takes_the_object_form(value: dict[str, Any]) -> None:
    sent = config(datasetSplit=value)["datasetSplit"]
    assert sent == {("testSize" if k == "test_size" else k): v for k, v in value.items()}


@pytest.mark.parametrize("value", ["train", True, False, 0.1])
def test_dataset_split_still_takes_a_plain_value_and_sends_it_as_given(value: Any) -> None:
    assert config(datasetSplit=value) == {"datasetSplit": value}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"testSize": 0.2}, "datasetSplit.enabled: required field is missing"),
        ({"enabled": True, "testSize": 1.5}, "datasetSplit.testSize: Input should be"),
        ({"enabled": True, "seed": -1}, "datasetSplit.seed: Input should be"),
        ({"enabled": True, "ratio": 0.1}, "datasetSplit.ratio: unknown field"),
        ([0.9, 0.1], "datasetSplit: write {enabled: true, testSize: 0.1, seed: 42}"),
    ],
)
def test_bad_dataset_splits_name_the_field(value: Any, problem: str) -> None:
    [found] = problems(datasetSplit=value)
    assert found.startswith(problem)


def test_gpu_types_are_sent_in_both_schemas() -> None:
    for wire_schema in WireSchema:
        assert config(wire_schema, gpuTypes=["H100", "A100 80GB"]) == {
            "gpuTypes": ["H100", "A100 80GB"]
        }


@pytest.mark.parametrize("value", [[], ["H100", " "], ["", "A100"]])
def test_gpu_types_must_be_non_blank_names(value: list[str]) -> None:
    [problem] = problems(gpuTypes=value)
    assert problem.startswith("gpuTypes: must list at least one GPU type name")


def test_gpu_types_cannot_be_smuggled_through_backend() -> None:
    [problem] = problems(backend={"gpuTypes": ["H100"]})
    assert problem.startswith("backend:") and "gpuTypes" in problem


# --- what each wire schema sends -------------------------------------------------------------

DRIFTING = {
    "warmupSteps": 0,
    "loggingSteps": 5,
    "saveSteps": {"steps": 50},
    "evalSteps": {"ratio": 0.25},
    "datasetSplit": {"enabled": True, "testSize": 0.1},
    "maxSteps": 200,
}


def test_job_config_sends_the_sdk_shapes_by_default() -> None:
    assert config(**DRIFTING) == DRIFTING


def test_job_config_sends_the_cloud_shapes_when_asked() -> None:
    assert config(WireSchema.CLOUD, **DRIFTING) == {
        "warmupSteps": {"steps": 0},
        "loggingSteps": {"steps": 5},
        "saveSteps": {"steps": 50},
        "evalSteps": {"ratio": 0.25},
        "datasetSplit": {"enabled": True, "testSize": 0.1},
        "maxSteps": 200,  # not a step setting: a number in both generations
    }


@pytest.mark.parametrize("enabled", [True, False])
def test_a_plain_boolean_split_becomes_the_object_on_the_cloud_schema(enabled: bool) -> None:
    assert config(WireSchema.CLOUD, datasetSplit=enabled) == {"datasetSplit": {"enabled": enabled}}


def test_a_plain_split_the_cloud_schema_cannot_express_is_refused_with_the_fix() -> None:
    spec = parse_spec({**BASE, "datasetSplit": "train"})
    with pytest.raises(SpecError) as raised:
        spec.job_config(WireSchema.CLOUD)
    [problem] = raised.value.problems
    assert problem.startswith("datasetSplit: 'train' has no form in the cloud wire schema")
    assert "{enabled: true, testSize: 0.1, seed: 42}" in problem


# --- payload compatibility -------------------------------------------------------------------


def test_new_forms_survive_the_temporal_payload_round_trip() -> None:
    spec = parse_spec({**BASE, **DRIFTING, "gpuTypes": ["H100"]})
    converter = pydantic_data_converter.payload_converter
    [back] = converter.from_payloads(converter.to_payloads([spec]), [RunSpec])
    assert back == spec
    assert back.job_config(WireSchema.CLOUD) == spec.job_config(WireSchema.CLOUD)


def test_a_spec_recorded_before_the_new_fields_still_loads() -> None:
    recorded = {**BASE, "evalSteps": 20, "saveSteps": 25, "datasetSplit": None}
    spec = RunSpec.model_validate_json(json.dumps(recorded))
    assert spec.eval_steps == 20 and spec.gpu_types is None


# --- the worker setting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, WireSchema.SDK), ({"ARKOR_TEMPORAL_WIRE_SCHEMA": ""}, WireSchema.SDK)]
    + [({"ARKOR_TEMPORAL_WIRE_SCHEMA": s.value}, s) for s in WireSchema],
)
def test_the_wire_schema_setting(env: dict[str, str], expected: WireSchema) -> None:
    assert wire_schema_from_env(env) is expected


def test_an_unknown_wire_schema_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"ARKOR_TEMPORAL_WIRE_SCHEMA='v2'.*sdk or cloud"):
        wire_schema_from_env({"ARKOR_TEMPORAL_WIRE_SCHEMA": "v2"})


def test_the_context_reads_the_setting_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARKOR_TEMPORAL_WIRE_SCHEMA", "cloud")
    assert CloudContext(SETTINGS).wire_schema is WireSchema.CLOUD


@dataclass(frozen=True)
class ScriptedContext(CloudContext):
    """A context whose clients talk to a mock backend that records the posted bodies."""

    posted: list[dict[str, Any]] = field(default_factory=list)

    def client(self) -> ArkorClient:
        def answer(request: httpx.Request) -> httpx.Response:
            self.posted.append(json.loads(request.content))
            return httpx.Response(201, json={"job": job("queued")})

        return ArkorClient(self.settings, transport=httpx.MockTransport(answer))


async def create(context: CloudContext, **fields: Any) -> None:
    start = StartJobInput(spec=parse_spec({**BASE, **fields}), marker="m-1")
    await ActivityEnvironment().run(JobActivities(context).create_or_adopt_job, start)


@pytest.mark.parametrize(
    ("wire_schema", "sent"),
    [(WireSchema.SDK, 25), (WireSchema.CLOUD, {"steps": 25})],
)
async def test_job_creation_posts_the_workers_wire_schema(
    wire_schema: WireSchema, sent: Any
) -> None:
    context = ScriptedContext(SETTINGS, wire_schema=wire_schema)
    await create(context, evalSteps=25)
    [body] = context.posted
    assert body["config"]["evalSteps"] == sent


async def test_a_config_the_workers_schema_cannot_express_is_rejected_before_posting() -> None:
    context = ScriptedContext(SETTINGS, wire_schema=WireSchema.CLOUD)
    with pytest.raises(ApplicationError) as raised:
        await create(context, datasetSplit="train")
    assert raised.value.type == FailureType.JOB_REJECTED and raised.value.non_retryable
    assert "datasetSplit: 'train' has no form in the cloud wire schema" in raised.value.message
    assert context.posted == []
