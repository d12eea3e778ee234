"""Mid-run evaluation, hooks and notifications on real runs (dev server + emulator)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata

from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.models import RunStatus, StopKind
from arkor_temporal.dev.local import EMULATOR_IDENTITY
from tests.support.backend import (
    assert_backend_cancelled,
    assert_completed_exactly_once,
    emitted_events,
)
from tests.support.evals import structured_cases, triage_cases
from tests.support.hook_recorder import RECORD_ENV, read_records
from tests.support.replay import assert_replays
from tests.support.runs import Runs, emulator_faults, make_spec
from tests.support.secrets import assert_no_secret, run_texts
from tests.support.webhooks import WebhookReceiver

HOOKS = "tests.support.hook_recorder"
SECRET_PATH = "/hooks/T000-secret-B000"


def evaluated_spec(name: str, **fields: Any) -> Any:
    return make_spec(
        name=name,
        maxSteps=100,
        saveSteps=25,
        evals={"cases": triage_cases() + structured_cases(), "compareBaseModel": True},
        **fields,
    )


async def test_scores_rise_and_the_best_checkpoint_is_named(
    runs: Runs, inspect: httpx.Client
) -> None:
    async with runs.worker():
        handle = await runs.start(evaluated_spec("evals"))
        result = await handle.result()
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert_completed_exactly_once(result, inspect, handle)
    assert [e.step for e in result.evals] == [25, 50, 75, 100]
    scores = [e.score for e in result.evals]
    assert all(s is not None for s in scores)
    assert scores[-1] > scores[0], scores  # type: ignore[operator]
    best = result.best_checkpoint
    assert best is not None and best.score == max(scores)  # type: ignore[type-var]
    assert best.adapter == {"kind": "checkpoint", "jobId": result.job_id, "step": best.step}
    json_case = next(c for e in result.evals for c in e.cases if c.name == "json-ticket")
    assert json_case.passed and '"category"' in json_case.sample
    assert all(e.base_score is not None and e.delta is not None for e in result.evals)
    assert result.evals[-1].delta == pytest.approx(scores[-1] - result.evals[-1].base_score)  # type: ignore[operator]
    assert "evaluations" in metadata.current_details and "100" in metadata.current_details
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.BEST_EVAL) == pytest.approx(best.score)
    # Every case reached the checkpoint's adapter and the base model, once per checkpoint.
    calls = inspect.get("/_emulator/inference", params={"jobId": result.job_id}).json()["calls"]
    assert sorted({c["step"] for c in calls}) == [25, 50, 75, 100]
    await assert_replays(handle)


async def test_slow_evaluations_never_hold_up_the_stream(runs: Runs, inspect: httpx.Client) -> None:
    spec = evaluated_spec("slow-evals", backend=emulator_faults(inferenceDelaySeconds=0.5))
    handle, result = await runs.run_to_end(spec)
    assert_completed_exactly_once(result, inspect, handle)
    assert len(result.evals) == 4
    # The stream ended (every event applied) while evaluations were still running.
    completed = [
        e.activity_task_completed_event_attributes.scheduled_event_id
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    ]
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    order = [scheduled[event_id] for event_id in completed]
    assert order.index("follow_job_events") < len(order) - 1
    assert order[-1] == "evaluate_checkpoint"


async def test_an_eval_rule_stops_the_run_and_cancels_the_job(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = make_spec(
        name="eval-stop",
        maxSteps=3000,
        saveSteps=25,
        evals={"cases": triage_cases()},
        stopRules={"evalScoreBelow": {"threshold": 0.99, "afterStep": 50}},
    )
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED and result.stop is not None
    assert (result.stop.kind, result.stop.rule) == (StopKind.STOP_RULE, "evalScoreBelow")
    first_judged = next(e for e in result.evals if e.step >= 50)
    assert result.stop.step == first_judged.step and first_judged.score is not None
    assert first_judged.score < 0.99
    assert_backend_cancelled(inspect, result.job_id)


@pytest.fixture
def hook_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hooks.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(path))
    return path


def all_hooks(**overrides: Any) -> dict[str, Any]:
    hooks = {
        key: f"{HOOKS}:{function}"
        for key, function in [
            ("onStarted", "on_started"),
            ("onLog", "on_log"),
            ("onCheckpoint", "on_checkpoint"),
            ("onCompleted", "on_completed"),
            ("onFailed", "on_failed"),
            ("onCancelled", "on_cancelled"),
        ]
    }
    return {**hooks, **overrides}


async def test_every_hook_receives_its_documented_arguments(
    runs: Runs, hook_record: Path, inspect: httpx.Client
) -> None:
    spec = make_spec(name="hooked", maxSteps=60, saveSteps=20, hooks=all_hooks())
    handle, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.COMPLETED and result.hook_failures == []
    records = read_records(hook_record)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_type.setdefault(record["type"], []).append(record)
    ids = {"run_name": "hooked", "job_id": result.job_id, "workflow_id": handle.id}
    [started] = by_type["StartedArgs"]
    assert started["args"] == {**ids, "model": spec.model, "max_steps": 60}
    logged = sorted(step for r in by_type["LogBatchArgs"] for step in r["steps"])
    emitted = [
        e for e in emitted_events(inspect, result.job_id or "") if e["type"] == "training.log"
    ]
    # Every log exactly once, across batches (HF-style: eval and summary logs share steps).
    assert logged == sorted(e["data"]["step"] for e in emitted)
    assert set(logged) == set(range(5, 61, 5))
    checkpoints = sorted(by_type["CheckpointArgs"], key=lambda r: r["args"]["step"])
    assert [r["args"]["step"] for r in checkpoints] == [20, 40, 60]
    assert checkpoints[0]["adapter"] == {"kind": "checkpoint", "jobId": result.job_id, "step": 20}
    assert all(r["answer"] for r in checkpoints), "infer reached the checkpoint's adapter"
    [completed] = by_type["CompletedArgs"]
    assert completed["args"]["metrics"]["steps"] == 60 and completed["args"]["artifacts"]
    assert "FailedArgs" not in by_type and "CancelledArgs" not in by_type
    await assert_replays(handle)


async def test_a_failing_hook_is_recorded_and_the_run_still_completes(
    runs: Runs, hook_record: Path
) -> None:
    hooks = {"onCheckpoint": {"importPath": f"{HOOKS}:explode", "maxAttempts": 2}}
    spec = make_spec(name="flaky-hook", maxSteps=40, saveSteps=20, hooks=hooks)
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.COMPLETED
    assert len(result.hook_failures) == 2  # one per checkpoint
    assert all("boom" in (f.error or "") and f.attempts == 2 for f in result.hook_failures)
    assert len(read_records(hook_record)) == 4  # two checkpoints, two attempts each


async def test_a_failing_critical_hook_fails_the_run_and_stops_the_gpu(
    runs: Runs, hook_record: Path, inspect: httpx.Client
) -> None:
    hooks = all_hooks(
        onCheckpoint={"importPath": f"{HOOKS}:explode", "critical": True, "maxAttempts": 1}
    )
    spec = make_spec(name="critical-hook", maxSteps=3000, saveSteps=20, hooks=hooks)
    _, failure, result = await runs.run_to_failure(spec)
    assert getattr(failure.cause, "type", None) == "CriticalHookFailed"
    assert result.status is RunStatus.FAILED and "critical hook failed" in result.reason
    assert_backend_cancelled(inspect, result.job_id)
    assert [r["type"] for r in read_records(hook_record)].count("FailedArgs") == 1


async def test_a_failing_critical_end_hook_fails_a_completed_run(
    runs: Runs, hook_record: Path
) -> None:
    hooks = {"onCompleted": {"importPath": f"{HOOKS}:explode", "critical": True, "maxAttempts": 1}}
    spec = make_spec(name="critical-end-hook", maxSteps=20, hooks=hooks)
    _, failure, result = await runs.run_to_failure(spec)
    assert getattr(failure.cause, "type", None) == "CriticalHookFailed"
    assert result.status is RunStatus.FAILED and "critical hook failed" in result.reason
    assert result.metrics.steps == 20, "the training itself completed"
    [failed_hook] = result.hook_failures
    assert failed_hook.critical and failed_hook.event.value == "completed"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        monkeypatch.setenv("SLACK_HOOK_URL", server.url(SECRET_PATH + "/slack"))
        monkeypatch.setenv("DISCORD_HOOK_URL", server.url(SECRET_PATH + "/discord"))
        yield server


NOTIFICATIONS = [
    {"kind": "slack", "urlEnv": "SLACK_HOOK_URL", "on": ["completed", "failed", "stopped"]},
    {"kind": "discord", "urlEnv": "DISCORD_HOOK_URL", "on": ["completed", "evalRegression"]},
]


async def test_each_chosen_event_is_notified_exactly_once_in_its_shape(
    runs: Runs, receiver: WebhookReceiver
) -> None:
    spec = make_spec(name="notified", maxSteps=40, saveSteps=20, notifications=NOTIFICATIONS)
    handle, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.COMPLETED
    assert [d.delivered for d in result.notifications] == [True, True]
    paths = sorted(m.path for m in receiver.messages)
    assert paths == [SECRET_PATH + "/discord", SECRET_PATH + "/slack"]
    assert len(receiver.requests) == 2
    slack = next(m for m in receiver.messages if m.path.endswith("slack")).body
    discord = next(m for m in receiver.messages if m.path.endswith("discord")).body
    assert "notified" in slack["text"] and slack["blocks"]
    assert discord["embeds"] and "notified" in (discord["content"] + str(discord["embeds"]))
    assert handle.id in str(slack)  # the run's Web UI link
    await assert_no_secret_in_history(handle, receiver)
    await assert_replays(handle)


async def test_a_receiver_that_is_down_never_fails_the_run(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_HOOK_URL", "http://127.0.0.1:1/hooks/T000-secret-B000")
    spec = make_spec(
        name="receiver-down",
        maxSteps=30,
        notifications=[{"kind": "slack", "urlEnv": "SLACK_HOOK_URL", "on": ["completed"]}],
    )
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.COMPLETED
    [delivery] = result.notifications
    assert not delivery.delivered and delivery.error and "T000-secret" not in delivery.error


async def test_worker_sigkill_around_a_delivery_loses_and_duplicates_nothing(
    runs: Runs, receiver: WebhookReceiver
) -> None:
    receiver.delay_next(1, seconds=3)  # the first POST is received, then answered late
    spec = make_spec(name="kill-notify", maxSteps=30, notifications=NOTIFICATIONS[:1])
    with runs.worker_process({"SLACK_HOOK_URL": os.environ["SLACK_HOOK_URL"]}) as victim:
        handle = await runs.start(spec)
        await runs.wait_for_status(
            handle, lambda _: bool(receiver.requests), what="a request at the webhook receiver"
        )
        os.kill(victim.pid, signal.SIGKILL)  # the delivery is in flight
    result = await runs.finish(handle)
    assert result.status is RunStatus.COMPLETED
    assert len(receiver.requests) >= 2, "the killed delivery was retried"
    assert len({r.key for r in receiver.requests}) == 1, "every retry carries the same key"
    assert len(receiver.messages) == 1, "the receiver kept exactly one"


async def assert_no_secret_in_history(handle: Any, receiver: WebhookReceiver) -> None:
    secrets = ("T000-secret", receiver.url(""), EMULATOR_IDENTITY.token)
    assert_no_secret(secrets, await run_texts(handle))
