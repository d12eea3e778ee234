"""The client against both generations of the cloud API (docs/protocol.md §14.13)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from arkor_cloud import ChatRequest, JobConfig, PermanentApiError, is_transient
from arkor_cloud.errors import AnonymousCredentialsRejected
from arkor_cloud.events import CompletedMetrics, TrainingCompleted, TrainingFailed, parse_event
from tests.support.scripted import responder

# --- the anonymous-credentials codes of PR #100 -----------------------------------------------


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("anonymous_token_single_device", "an anonymous account works on one machine only"),
        ("anonymous_account_not_found", "no longer exists"),
    ],
)
async def test_anonymous_dead_ends_are_permanent_and_name_the_fix(code: str, why: str) -> None:
    body = {"error": "unauthorized", "code": code}
    client, _ = responder(lambda r: httpx.Response(401, json=body))
    async with client:
        with pytest.raises(AnonymousCredentialsRejected) as raised:
            await client.list_jobs()
    err = raised.value
    assert isinstance(err, PermanentApiError) and err.is_permanent and not is_transient(err)
    assert (err.status, err.code) == (401, code)
    assert code in err.message and why in err.message
    for fix in ("arkor login --oauth", "arkor login --anonymous", ".arkor/state.json"):
        assert fix in err.message
    assert json.loads(err.body) == body


async def test_a_401_without_a_known_code_keeps_the_servers_message() -> None:
    body = {"error": "token expired", "code": "something_else"}
    client, _ = responder(lambda r: httpx.Response(401, json=body))
    async with client:
        with pytest.raises(PermanentApiError) as raised:
            await client.list_jobs()
    assert not isinstance(raised.value, AnonymousCredentialsRejected)
    assert raised.value.message == "token expired"


# --- training.completed.metrics and training.failed.step -------------------------------------


def completed(**fields: Any) -> TrainingCompleted:
    data = json.dumps({"type": "training.completed", "jobId": "j1", **fields})
    event = parse_event(ServerSentEvent(event="training.completed", data=data, id="9"))
    assert isinstance(event, TrainingCompleted)
    return event


def test_completed_metrics_are_typed() -> None:
    metrics = completed(metrics={"finalLoss": 0.42, "totalSteps": 300, "totalTime": 812.5}).metrics
    assert metrics == CompletedMetrics(final_loss=0.42, total_steps=300, total_time=812.5)


def test_completed_metrics_may_each_be_null_and_keep_other_keys() -> None:
    metrics = completed(metrics={"finalLoss": None, "gpuHours": 0.3}).metrics
    assert metrics is not None
    assert (metrics.final_loss, metrics.total_steps, metrics.total_time) == (None, None, None)
    assert metrics.model_extra == {"gpuHours": 0.3}


@pytest.mark.parametrize("metrics", [None, 7, "done", [1, 2]])
def test_completed_metrics_in_the_old_untyped_shape_never_cost_the_event(metrics: Any) -> None:
    event = completed(metrics=metrics, artifacts=[{"pathname": "adapter.json"}])
    assert event.metrics is None and event.is_terminal and event.artifacts


def test_a_malformed_figure_reads_as_null() -> None:
    metrics = completed(metrics={"finalLoss": "n/a", "totalSteps": 2.5, "totalTime": 9}).metrics
    assert metrics == CompletedMetrics(total_time=9.0)


def test_completed_without_metrics() -> None:
    assert completed().metrics is None


@pytest.mark.parametrize("fields", [{"step": None}, {}])
def test_failed_step_may_be_null_or_absent(fields: dict[str, Any]) -> None:
    data = json.dumps({"type": "training.failed", "error": "OOM", **fields})
    event = parse_event(ServerSentEvent(event="training.failed", data=data))
    assert isinstance(event, TrainingFailed) and event.step is None and event.error == "OOM"


# --- request shapes --------------------------------------------------------------------------


def test_chat_request_sends_the_new_inference_fields_by_their_wire_names() -> None:
    request = ChatRequest(
        messages=[{"role": "user", "content": "hi"}],
        base_model="m",
        stop=["\n\n"],
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        seed=7,
        logprobs=True,
        top_logprobs=3,
        logit_bias={"50256": -100},
        stream_options={"include_usage": True},
        enable_thinking=False,
        reasoning_effort="low",
    )
    assert request.to_wire() == {
        "messages": [{"role": "user", "content": "hi"}],
        "baseModel": "m",
        "stop": ["\n\n"],
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "seed": 7,
        "logprobs": True,
        "topLogprobs": 3,
        "logitBias": {"50256": -100.0},
        "streamOptions": {"include_usage": True},
        "enableThinking": False,
        "reasoningEffort": "low",
    }


def test_job_config_carries_both_generations() -> None:
    wire = {
        "model": "m",
        "datasetSource": {"type": "huggingface", "name": "x"},
        "evalSteps": {"ratio": 0.25},
        "saveSteps": 50,
        "datasetSplit": {"enabled": True, "testSize": 0.1},
        "gpuTypes": ["H100"],
    }
    config = JobConfig.model_validate(wire)
    assert config.gpu_types == ["H100"]
    assert config.to_wire() == wire
