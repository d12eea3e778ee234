"""The evaluation activity against the real emulator over loopback."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from arkor_cloud import ClientSettings
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.evaluation import EvalActivities
from arkor_temporal.core.evals import EvalInput, EvalSuiteSpec
from tests.support.evals import (
    FAST_RETRIES,
    MODEL,
    ROUTE_TOOL,
    TICKET_SCHEMA,
    TRIAGE,
    structured_cases,
    trained_job,
    triage_cases,
)


async def evaluate(context: CloudContext, job_id: str, step: int, suite: dict[str, Any]) -> Any:
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    activities = EvalActivities(context, retry_delays=FAST_RETRIES)
    eval_input = EvalInput(
        job_id=job_id, step=step, suite=EvalSuiteSpec.model_validate(suite), base_model=MODEL
    )
    result = await env.run(activities.evaluate_checkpoint, eval_input)
    return result, beats


@pytest.fixture(scope="module")
async def job_id(cloud_settings: ClientSettings) -> str:
    return await trained_job(cloud_settings)


async def test_scores_rise_across_checkpoints_and_the_base_delta_is_recorded(
    cloud_context: CloudContext, job_id: str, inspect: httpx.Client
) -> None:
    suite = {"cases": triage_cases() + structured_cases(), "compareBaseModel": True}
    early, beats = await evaluate(cloud_context, job_id, 25, suite)
    late, _ = await evaluate(cloud_context, job_id, 100, suite)

    assert early.error is None and late.error is None
    assert early.score is not None and late.score is not None
    assert late.score > early.score, (early.score, late.score)
    assert late.adapter == {"kind": "checkpoint", "jobId": job_id, "step": 100}
    assert late.total == len(TRIAGE.examples) + 2

    # The base model answers the same cases; the delta is recorded per evaluation.
    assert late.base_score is not None and late.delta is not None
    assert late.delta == pytest.approx(late.score - late.base_score)
    assert late.delta > 0
    assert all(case.base_score is not None for case in late.cases)

    # A JSON-schema case: the answer parses as JSON and validates.
    json_case = next(c for c in late.cases if c.name == "json-ticket")
    assert json_case.passed and json_case.error is None
    assert set(json.loads(json_case.sample)) == {"category", "priority"}
    assert next(c for c in late.cases if c.name == "choice-category").passed

    calls = inspect.get("/_emulator/inference", params={"jobId": job_id}).json()["calls"]
    assert {(c["adapterKind"], c["step"], c["stream"]) for c in calls} == {
        ("checkpoint", 25, False),
        ("checkpoint", 100, False),
    }
    base_calls = [
        c for c in inspect.get("/_emulator/inference").json()["calls"] if c["baseModel"] == MODEL
    ]
    assert len(base_calls) >= 2 * late.total
    assert beats and beats[-1] == {"done": 2 * late.total, "total": 2 * late.total}


async def test_tool_calling_not_configured_is_recorded_on_its_case(
    cloud_settings: ClientSettings, cloud_context: CloudContext, inspect: httpx.Client
) -> None:
    job = await trained_job(cloud_settings, faults={"toolCallingNotConfigured": True})
    user = [{"role": "user", "content": TRIAGE.examples[1].prompt}]
    suite = {
        "cases": [
            {
                "name": "auto-tools",
                "messages": user,
                "tools": [ROUTE_TOOL],
                "toolChoice": "auto",
                "expect": {"type": "jsonSchema", "schema": TICKET_SCHEMA},
            },
            {
                # "required" uses guided decoding: no tool parser needed (docs/protocol.md §5.4).
                "name": "required-tool",
                "messages": user,
                "tools": [ROUTE_TOOL],
                "toolChoice": "required",
                "expect": {"type": "jsonSchema", "schema": TICKET_SCHEMA},
            },
        ]
    }
    result, _ = await evaluate(cloud_context, job, 100, suite)
    auto, required = result.cases
    assert not auto.passed and auto.score == 0.0
    assert auto.error is not None and "tool_calling_not_configured" in auto.error
    assert "400" in auto.error
    assert required.passed and required.error is None
    assert required.sample.startswith("route_ticket({")
    assert result.error is None and result.score == 0.5


async def test_a_checkpoint_that_does_not_exist_is_an_evaluation_error(
    cloud_context: CloudContext, job_id: str
) -> None:
    result, _ = await evaluate(cloud_context, job_id, 30, {"cases": triage_cases()[:2]})
    assert result.score is None and not result.passed
    assert result.error is not None and "bad adapter" in result.error
    assert all(c.error and "422" in c.error for c in result.cases)


async def test_transient_inference_errors_are_retried_inside_the_activity(
    cloud_settings: ClientSettings, cloud_context: CloudContext, inspect: httpx.Client
) -> None:
    job = await trained_job(cloud_settings, faults={"serverErrorBurst": 2})
    result, _ = await evaluate(cloud_context, job, 100, {"cases": triage_cases()[:1]})
    assert result.error is None and result.cases[0].error is None
    statuses = [
        c["status"]
        for c in inspect.get("/_emulator/inference", params={"jobId": job}).json()["calls"]
    ]
    assert statuses[0] >= 500 and statuses[1] >= 500 and statuses[-1] == 200


async def test_inference_that_keeps_failing_fails_the_attempt_for_temporal_to_retry(
    cloud_settings: ClientSettings, cloud_context: CloudContext, inspect: httpx.Client
) -> None:
    job = await trained_job(cloud_settings, faults={"serverErrorRate": 1.0})
    with pytest.raises(ApplicationError) as caught:
        await evaluate(cloud_context, job, 100, {"cases": triage_cases()[:3]})
    assert caught.value.type == "InferenceUnavailable"
    assert not caught.value.non_retryable
    assert "inference kept failing" in caught.value.message
