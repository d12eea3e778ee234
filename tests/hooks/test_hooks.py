"""User hooks: the spec, the argument objects, and the ``run_hook`` activity on the emulator."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from arkor_cloud import ClientSettings
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.hooks import HookActivities
from arkor_temporal.core.hooks import (
    CancelledArgs,
    CheckpointArgs,
    CompletedArgs,
    FailedArgs,
    HookArgs,
    HookCall,
    HookEvent,
    HookOutcome,
    HooksSpec,
    LogBatchArgs,
    LogEntry,
    StartedArgs,
)
from tests.support.evals import MODEL, trained_job
from tests.support.hook_recorder import RECORD_ENV, read_records
from tests.support.retries import retries_ran_out

RECORDER = "tests.support.hook_recorder"
COMMON: dict[str, Any] = {"run_name": "triage", "job_id": "job-1", "workflow_id": "train-triage-1"}


@pytest.fixture
def record_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hooks.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(path))
    return path


@pytest.fixture(scope="module")
async def job_id(cloud_settings: ClientSettings) -> str:
    return await trained_job(cloud_settings)


def every_hook(**overrides: Any) -> HooksSpec:
    spec: dict[str, Any] = {
        "onStarted": f"{RECORDER}:on_started",
        "onLog": {"importPath": f"{RECORDER}:on_log", "maxAttempts": 5},
        "onCheckpoint": {"importPath": f"{RECORDER}:on_checkpoint", "timeoutSeconds": 30},
        "onCompleted": {"importPath": f"{RECORDER}:on_completed", "critical": True},
        "onFailed": f"{RECORDER}:on_failed",
        "onCancelled": f"{RECORDER}:on_cancelled",
    }
    return HooksSpec.model_validate({**spec, **overrides})


def through_temporal(call: HookCall) -> HookCall:
    """The call as the worker receives it: serialised into a payload and back."""
    converter = pydantic_data_converter.payload_converter
    [restored] = converter.from_payloads(converter.to_payloads([call]), [HookCall])
    assert isinstance(restored, HookCall)
    return restored


async def run(context: CloudContext, call: HookCall) -> HookOutcome:
    outcome = await ActivityEnvironment().run(
        HookActivities(context).run_hook, through_temporal(call)
    )
    assert isinstance(outcome, HookOutcome)
    return outcome


# --- spec -----------------------------------------------------------------------------------


def test_the_spec_takes_camel_case_a_shorthand_and_defaults() -> None:
    hooks = every_hook()
    assert hooks.on_started is not None and hooks.on_started.import_path.endswith(":on_started")
    assert (hooks.on_started.critical, hooks.on_started.timeout_seconds) == (False, 60)
    assert hooks.on_started.max_attempts == 3
    assert hooks.on_completed is not None and hooks.on_completed.critical
    assert HooksSpec().call_for(FailedArgs(**COMMON, error="x")) is None


@pytest.mark.parametrize(
    ("spec", "loc", "message"),
    [
        ({"onStarted": "absent_hooks.mod:go"}, "onStarted.importPath", "cannot import module"),
        ({"onStarted": f"{RECORDER}:nope"}, "onStarted.importPath", "has no attribute 'nope'"),
        ({"onStarted": "hooks.py"}, "onStarted.importPath", "is not an import path"),
        ({"onFinished": f"{RECORDER}:on_failed"}, "onFinished", "Extra inputs"),
        (
            {"onLog": {"importPath": f"{RECORDER}:on_log", "maxAttempts": 0}},
            "onLog.maxAttempts",
            "greater than or equal to 1",
        ),
    ],
)
def test_bad_hooks_are_refused_before_the_run(spec: dict[str, Any], loc: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HooksSpec.model_validate(spec)
    [error] = caught.value.errors()
    assert ".".join(map(str, error["loc"])) == loc
    assert message in error["msg"]


def test_the_call_carries_what_the_workflow_needs() -> None:
    hooks = every_hook()
    call = hooks.call_for(LogBatchArgs(**COMMON, logs=[LogEntry(step=5, loss=1.25)]))
    assert call is not None
    assert (call.event, call.max_attempts, call.critical) == (HookEvent.LOG, 5, False)
    assert call.retry_policy.maximum_attempts == 5
    assert call.start_to_close_timeout == timedelta(seconds=65)
    assert call.summary == f"onLog hook {RECORDER}:on_log"
    assert call.payload["logs"] == [
        {
            "step": 5,
            "loss": 1.25,
            "eval_loss": None,
            "learning_rate": None,
            "epoch": None,
            "samples_per_second": None,
        }
    ]


async def test_infer_is_only_available_on_the_worker() -> None:
    with pytest.raises(RuntimeError, match="bound by the worker"):
        await CheckpointArgs(**COMMON, step=25).infer(messages=[])


# --- the activity ---------------------------------------------------------------------------


async def test_every_event_reaches_its_hook_with_the_documented_arguments(
    cloud_context: CloudContext, job_id: str, record_file: Path, inspect: httpx.Client
) -> None:
    common = {**COMMON, "job_id": job_id}
    best = {"step": 100, "score": 0.9, "adapter": {"kind": "checkpoint", "jobId": job_id}}
    calls: list[HookArgs] = [
        StartedArgs(**common, model=MODEL, max_steps=100),
        LogBatchArgs(
            **common,
            logs=[LogEntry(step=5, loss=2.5, learning_rate=2e-4), LogEntry(step=10, loss=2.0)],
        ),
        CheckpointArgs(**common, step=25, artifacts=[{"path": "checkpoint-25"}]),
        CompletedArgs(
            **common,
            artifacts=[{"path": "final"}],
            metrics={"steps": 100, "last_loss": 0.4},
            best_checkpoint=best,
        ),
        FailedArgs(**common, error="CUDA out of memory"),
        CancelledArgs(**common, status="stopped", reason="loss above 10.0 at step 40"),
    ]
    hooks = every_hook()
    for args in calls:
        call = hooks.call_for(args)
        assert call is not None
        outcome = await run(cloud_context, call)
        assert (outcome.ok, outcome.attempts, outcome.event) == (True, 1, args.event)

    records = read_records(record_file)
    assert [r["type"] for r in records] == [type(a).__name__ for a in calls]
    assert [r["args"] for r in records] == [a.payload() for a in calls]
    assert records[1]["steps"] == [5, 10]
    assert records[2]["args"]["step"] == 25
    assert records[2]["adapter"] == {"kind": "checkpoint", "jobId": job_id, "step": 25}
    assert records[2]["answer"]  # infer() answered from the checkpoint's adapter
    assert records[3]["args"]["best_checkpoint"] == best
    assert records[5]["args"]["status"] == "stopped"

    inference = inspect.get("/_emulator/inference", params={"jobId": job_id}).json()["calls"]
    assert [(c["adapterKind"], c["step"], c["stream"], c["status"]) for c in inference] == [
        ("checkpoint", 25, False, 200)
    ]


async def test_a_raising_hook_fails_the_attempt_with_a_retryable_hook_failed(
    cloud_context: CloudContext, record_file: Path
) -> None:
    call = every_hook(onFailed=f"{RECORDER}:explode").call_for(FailedArgs(**COMMON, error="x"))
    assert call is not None
    with pytest.raises(ApplicationError) as caught:
        await run(cloud_context, call)
    assert caught.value.type == "HookFailed" and not caught.value.non_retryable
    assert caught.value.message == (
        f"onFailed hook {RECORDER}:explode failed: RuntimeError: boom from the test hook at failed"
    )
    assert read_records(record_file)[0]["exploded"]


async def test_a_hook_that_overruns_its_timeout_fails_the_attempt(
    cloud_context: CloudContext,
) -> None:
    hooks = every_hook(onStarted={"importPath": f"{RECORDER}:stall", "timeoutSeconds": 0.2})
    call = hooks.call_for(StartedArgs(**COMMON, model=MODEL))
    assert call is not None
    with pytest.raises(ApplicationError, match=r"timed out after 0.2s") as caught:
        await run(cloud_context, call)
    assert caught.value.type == "HookFailed"


async def test_a_hook_missing_on_the_worker_fails_the_attempt(cloud_context: CloudContext) -> None:
    call = HookCall(
        event=HookEvent.STARTED,
        import_path="absent_hooks.mod:go",
        payload=StartedArgs(**COMMON, model=MODEL).payload(),
        critical=True,
        timeout_seconds=5,
        max_attempts=1,
    )
    with pytest.raises(ApplicationError, match=r"cannot import module 'absent_hooks\.mod'"):
        await run(cloud_context, call)


def test_the_workflow_records_a_hook_whose_retries_ran_out() -> None:
    call = every_hook().call_for(CompletedArgs(**COMMON))
    assert call is not None
    cause = ApplicationError("completed hook x failed: boom", type="HookFailed")
    outcome = HookOutcome.failure(call, retries_ran_out("run_hook", cause))
    assert (outcome.ok, outcome.critical, outcome.attempts) == (False, True, 3)
    assert outcome.error == "completed hook x failed: boom"


async def test_the_example_hooks_validate_and_run(
    cloud_context: CloudContext, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    example = "examples.hooks.triage_hooks"
    names = ("started", "log", "checkpoint", "completed", "failed", "cancelled")
    hooks = HooksSpec.model_validate({f"on{n.capitalize()}": f"{example}:on_{n}" for n in names})
    call = hooks.call_for(CheckpointArgs(**{**COMMON, "job_id": job_id}, step=50))
    assert call is not None
    caplog.set_level(logging.INFO, logger="triage_hooks")
    assert (await run(cloud_context, call)).ok
    assert "triage: checkpoint 50 answers 'Category: " in caplog.text
