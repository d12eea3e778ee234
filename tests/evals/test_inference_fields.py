"""Eval cases take the inference fields the SDK forwards since PR #210 (docs/protocol.md §14.13)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from arkor_cloud import ArkorClient, ClientSettings
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.evaluation import EvalActivities
from arkor_temporal.core.evals import EvalCase, EvalInput, EvalSuiteSpec
from arkor_temporal.core.spec import SpecError, parse_spec
from tests.support.evals import FAST_RETRIES, MODEL, trained_job, triage_cases

NEW_FIELDS = {
    "stop": ["\n\n", "###"],
    "presencePenalty": 0.5,
    "frequencyPenalty": -0.25,
    "seed": 1234,
    "logprobs": True,
    "topLogprobs": 2,
    "logitBias": {"50256": -100},
    "streamOptions": {"include_usage": True},
    "enableThinking": False,
    "reasoningEffort": "low",
}


def case(**fields: Any) -> dict[str, Any]:
    return {**triage_cases()[0], **fields}


def test_a_case_takes_every_new_field() -> None:
    parsed = EvalCase.model_validate(case(**NEW_FIELDS))
    assert parsed.generation_settings() == {
        "max_tokens": 64,
        "stop": ["\n\n", "###"],
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "seed": 1234,
        "logprobs": True,
        "top_logprobs": 2,
        "logit_bias": {"50256": -100.0},
        "stream_options": {"include_usage": True},
        "enable_thinking": False,
        "reasoning_effort": "low",
    }


def test_stop_may_be_one_string() -> None:
    assert EvalCase.model_validate(case(stop="END")).stop == "END"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stop", 5),
        ("presencePenalty", "high"),
        ("seed", "lucky"),
        ("logprobs", "sometimes"),
        ("topLogprobs", 1.5),
        ("logitBias", {"50256": "never"}),
        ("streamOptions", True),
        ("enableThinking", "maybe"),
        ("reasoningEffort", 3),
    ],
)
def test_a_new_field_of_the_wrong_type_names_the_field(key: str, value: Any) -> None:
    base = {"name": "r", "model": MODEL, "dataset": {"type": "huggingface", "name": "x"}}
    with pytest.raises(SpecError) as raised:
        parse_spec({**base, "evals": {"cases": [case(**{key: value})]}})
    assert any(p.startswith(f"evals.cases.0.{key}") for p in raised.value.problems)


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP, with each inference request's body kept on the way out."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        super().__init__()
        self.bodies = bodies

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/inference/chat":
            self.bodies.append(json.loads(request.content))
        return await super().handle_async_request(request)


@dataclass(frozen=True)
class RecordingContext(CloudContext):
    """The emulator records no request bodies, so its clients record them."""

    bodies: list[dict[str, Any]] = field(default_factory=list)

    def client(self) -> ArkorClient:
        return ArkorClient(self.settings, transport=RecordingTransport(self.bodies))


async def test_the_new_fields_reach_the_inference_request(
    cloud_settings: ClientSettings, inspect: httpx.Client
) -> None:
    job_id = await trained_job(cloud_settings)
    context = RecordingContext(cloud_settings)
    suite = EvalSuiteSpec.model_validate({"cases": [case(**NEW_FIELDS)]})
    eval_input = EvalInput(job_id=job_id, step=100, suite=suite, base_model=MODEL)
    activities = EvalActivities(context, retry_delays=FAST_RETRIES)
    result = await ActivityEnvironment().run(activities.evaluate_checkpoint, eval_input)

    [body] = context.bodies
    assert {key: body[key] for key in NEW_FIELDS} == {**NEW_FIELDS, "logitBias": {"50256": -100.0}}
    assert body["adapter"] == {"kind": "checkpoint", "jobId": job_id, "step": 100}
    # The emulator accepted the request: the case was answered, not errored.
    assert result.error is None and result.cases[0].error is None
    [call] = inspect.get("/_emulator/inference", params={"jobId": job_id}).json()["calls"]
    assert call["status"] == 200 and call["stream"] is False
