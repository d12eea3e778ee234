"""Notifications: the spec, the message shapes, and delivery to a real HTTP receiver."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from arkor_temporal.activities.notify import NotifyActivities, redact
from arkor_temporal.core.notifications import (
    DeliveryRecord,
    NotificationContext,
    NotificationInput,
    NotificationKind,
    NotificationSpec,
    NotifyEvent,
    build_message,
    notification_key,
    plan_notifications,
)
from arkor_temporal.dev.local import free_port
from tests.support.retries import retries_ran_out
from tests.support.secrets import assert_no_secret
from tests.support.webhooks import WebhookReceiver

WORKFLOW_ID = "train-triage-20261129T010000Z"
SECRET = "T0001/B0002/s3cr3t-webhook-token"
UI = "https://temporal.example.com"


def context(event: NotifyEvent = NotifyEvent.COMPLETED, **fields: Any) -> NotificationContext:
    values: dict[str, Any] = {
        "workflow_id": WORKFLOW_ID,
        "run_name": "triage",
        "event": event,
        "status": event.value,
        "reason": "training completed at step 100",
        "job_id": "job-1",
        "steps": 100,
        "max_steps": 100,
        "last_loss": 0.41234,
        "best_eval_score": 0.9166,
        "best_eval_step": 75,
    }
    return NotificationContext(**{**values, **fields})


def notification(
    kind: NotificationKind, event: NotifyEvent = NotifyEvent.COMPLETED
) -> NotificationInput:
    [planned] = plan_notifications(
        [NotificationSpec(kind=kind, url_env="HOOK_URL", on=[event])],
        context(event),
    )
    # Exactly what the worker gets from the workflow.
    converter = pydantic_data_converter.payload_converter
    [restored] = converter.from_payloads(converter.to_payloads([planned]), [NotificationInput])
    assert isinstance(restored, NotificationInput)
    return restored


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def environ(url: str) -> dict[str, str]:
    return {"HOOK_URL": url, "ARKOR_TEMPORAL_UI_URL": UI}


async def send(env: dict[str, str], notice: NotificationInput) -> DeliveryRecord:
    activities = NotifyActivities(env, timeout_seconds=2)
    record = await ActivityEnvironment().run(activities.send_notification, notice)
    assert isinstance(record, DeliveryRecord)
    return record


# --- spec -----------------------------------------------------------------------------------


def test_the_spec_names_the_variable_and_the_events() -> None:
    spec = NotificationSpec.model_validate(
        {"kind": "slack", "urlEnv": "SLACK_WEBHOOK_URL", "on": ["failed", "evalRegression"]}
    )
    assert spec.on == [NotifyEvent.FAILED, NotifyEvent.EVAL_REGRESSION]
    # PyYAML reads a bare `on:` key as true; it still means the events.
    from_yaml = yaml.safe_load("kind: webhook\nurlEnv: OPS_URL\non: [stopped]\n")
    assert NotificationSpec.model_validate(from_yaml).on == [NotifyEvent.STOPPED]
    default = NotificationSpec.model_validate({"kind": "discord", "urlEnv": "DISCORD_URL"})
    assert NotifyEvent.EVAL_REGRESSION not in default.on and NotifyEvent.STOPPED in default.on


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"kind": "slack", "url": f"https://hooks.slack.com/services/{SECRET}"},
            "a literal webhook URL is not allowed in a spec",
        ),
        (
            {"kind": "slack", "urlEnv": f"https://hooks.slack.com/services/{SECRET}"},
            "must be the name of an environment variable",
        ),
        ({"kind": "teams", "urlEnv": "X"}, "Input should be 'slack', 'discord' or 'webhook'"),
        ({"kind": "webhook", "urlEnv": "X", "on": ["done"]}, "Input should be 'completed'"),
        ({"kind": "webhook", "urlEnv": "X", "on": []}, "at least 1 item"),
    ],
)
def test_bad_notifications_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationSpec.model_validate(data)
    assert message in str(caught.value)
    assert SECRET not in str(caught.value).split("input_value=")[0]


def test_plan_picks_subscribed_notifications_with_stable_keys() -> None:
    specs = [
        NotificationSpec(kind="slack", url_env="A", on=[NotifyEvent.FAILED]),
        NotificationSpec(kind="webhook", url_env="B"),
        NotificationSpec(kind="discord", url_env="C", on=[NotifyEvent.COMPLETED]),
    ]
    planned = plan_notifications(specs, context())
    assert [(n.index, n.kind) for n in planned] == [(1, "webhook"), (2, "discord")]
    keys = {n.idempotency_key for n in planned}
    assert keys == {
        notification_key(WORKFLOW_ID, "completed", 1),
        notification_key(WORKFLOW_ID, "completed", 2),
    }
    assert notification_key(WORKFLOW_ID, "completed", 1) == planned[0].idempotency_key
    assert notification_key(WORKFLOW_ID, "failed", 1) not in keys
    assert planned[0].idempotency_key.startswith("arkor-") and len(planned[0].idempotency_key) == 46


# --- message shapes (pure) ------------------------------------------------------------------


def test_slack_message_is_an_incoming_webhook_with_blocks() -> None:
    message = build_message(
        "slack", context(reason="loss <nan> & worse", web_ui_url=f"{UI}/namespaces/default")
    )
    assert message["text"] == "✅ triage: training completed: loss &lt;nan&gt; &amp; worse"
    header, reason, facts, link = message["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "✅ triage: training completed"},
    }
    assert reason["text"]["text"] == "loss &lt;nan&gt; &amp; worse"
    assert [f["text"] for f in facts["fields"]] == [
        "*Status*\ncompleted",
        "*Steps*\n100/100",
        "*Last loss*\n0.4123",
        "*Best eval*\n0.917 (step 75)",
        "*Job*\njob-1",
    ]
    assert link["text"]["text"] == f"<{UI}/namespaces/default|Open in the Temporal Web UI>"


def test_discord_message_is_an_embed_that_pings_nobody() -> None:
    message = build_message("discord", context(NotifyEvent.FAILED, reason="CUDA out of memory"))
    assert message["content"] == "❌ triage: training failed"
    assert message["allowed_mentions"] == {"parse": []}
    [embed] = message["embeds"]
    assert embed["description"] == "CUDA out of memory"
    assert embed["footer"] == {"text": WORKFLOW_ID}
    assert {f["name"]: f["value"] for f in embed["fields"]}["Best eval"] == "0.917 (step 75)"
    assert "url" not in embed  # no link known yet: the worker adds it


def test_generic_message_carries_every_field_and_the_key() -> None:
    message = build_message("webhook", context(NotifyEvent.STOPPED), idempotency_key="arkor-1")
    assert message == {
        "text": "🛑 triage: run stopped early",
        "workflowId": WORKFLOW_ID,
        "runName": "triage",
        "event": "stopped",
        "status": "stopped",
        "reason": "training completed at step 100",
        "jobId": "job-1",
        "steps": 100,
        "maxSteps": 100,
        "lastLoss": 0.41234,
        "bestEvalScore": 0.9166,
        "bestEvalStep": 75,
        "webUiUrl": None,
        "idempotencyKey": "arkor-1",
    }


def test_redaction_removes_the_url_and_its_secret_parts() -> None:
    url = f"https://user:pw@hooks.example.com/services/{SECRET}?token=abc"
    text = f"failed for {url} (path /services/{SECRET}, query token=abc)"
    redacted = redact(text, url)
    assert SECRET not in redacted and "token=abc" not in redacted and "pw" not in redacted


# --- delivery to a real receiver ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["slack", "discord", "webhook"])
async def test_delivery_posts_one_message_with_the_idempotency_key(
    receiver: WebhookReceiver, kind: NotificationKind, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = receiver.url(f"/services/{SECRET}")
    notice = notification(kind)
    record = await send(environ(url), notice)
    assert (record.delivered, record.status_code, record.attempts, record.error) == (
        True,
        200,
        1,
        None,
    )
    [message] = receiver.messages
    assert message.path == f"/services/{SECRET}"
    assert message.key == notification_key(WORKFLOW_ID, "completed", 0) == notice.idempotency_key
    assert message.headers["content-type"] == "application/json"
    link = f"{UI}/namespaces/default/workflows/{WORKFLOW_ID}"
    if kind == "slack":
        assert set(message.body) == {"text", "blocks"}
        assert link in message.body["blocks"][-1]["text"]["text"]
    elif kind == "discord":
        assert set(message.body) == {"content", "embeds", "allowed_mentions"}
        assert message.body["embeds"][0]["url"] == link
    else:
        assert message.body["idempotencyKey"] == message.key
        assert message.body["webUiUrl"] == link
        assert message.body["runName"] == "triage" and message.body["bestEvalScore"] == 0.9166
    assert_no_secret((SECRET, url), {"log": caplog.text})


async def test_a_repeated_delivery_is_dropped_by_its_key(receiver: WebhookReceiver) -> None:
    # What a retry after a worker was killed between the POST and completion looks like.
    env = environ(receiver.url(f"/services/{SECRET}"))
    notice = notification("slack")
    await send(env, notice)
    await send(env, notice)
    await send(env, notification("slack", NotifyEvent.EVAL_REGRESSION))
    assert len(receiver.requests) == 3
    assert len({r.key for r in receiver.requests}) == 2
    assert [m.body["blocks"][0]["text"]["text"] for m in receiver.messages] == [
        "✅ triage: training completed",
        "📉 triage: eval score regressed",
    ]


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/services/{SECRET}"


async def test_a_receiver_that_is_down_is_a_retryable_error_without_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = closed_port_url()
    with pytest.raises(ApplicationError) as caught:
        await send(environ(url), notification("discord"))
    error = caught.value
    assert error.type == "NotificationUndelivered" and not error.non_retryable
    assert error.message.startswith("the discord webhook in $HOOK_URL is unreachable (ConnectError")
    assert error.__cause__ is None  # nothing chained that could carry the URL into history
    texts = {"message": error.message, "error": str(error), "details": repr(error.details)}
    assert_no_secret((SECRET, url), {**texts, "log": caplog.text})


async def test_server_errors_are_retryable_and_honour_retry_after(
    receiver: WebhookReceiver,
) -> None:
    env = environ(receiver.url(f"/services/{SECRET}"))
    receiver.fail_next(2, 503)
    with pytest.raises(ApplicationError, match=r"answered HTTP 503$") as first:
        await send(env, notification("webhook"))
    assert not first.value.non_retryable and first.value.next_retry_delay is None
    receiver.fail_next(1, 429, {"Retry-After": "7"})
    with pytest.raises(ApplicationError, match="HTTP 429") as throttled:
        await send(env, notification("webhook"))
    assert throttled.value.next_retry_delay == timedelta(seconds=7)
    assert SECRET not in throttled.value.message
    receiver.fail_next(0, 200)
    assert (await send(env, notification("webhook"))).delivered


async def test_a_refused_message_or_a_missing_variable_is_recorded_not_raised(
    receiver: WebhookReceiver,
) -> None:
    url = receiver.url(f"/services/{SECRET}")
    receiver.fail_next(1, 404)
    refused = await send(environ(url), notification("slack"))
    assert (refused.delivered, refused.status_code) == (False, 404)
    assert refused.error == (
        "the slack webhook in $HOOK_URL refused the message with HTTP 404; check the URL"
    )
    missing = await send({}, notification("slack"))
    assert not missing.delivered and missing.status_code is None
    assert missing.error is not None and missing.error.startswith(
        "HOOK_URL is not set on the worker"
    )
    for bad in ("hooks.slack.com/x", "http://[::1/x", "ftp://example.com/x"):
        not_http = await send({"HOOK_URL": bad}, notification("slack"))
        assert not_http.error == "HOOK_URL does not hold an http(s) URL"
    assert len(receiver.requests) == 1


def test_the_workflow_records_a_delivery_whose_retries_ran_out() -> None:
    notice = notification("slack")
    cause = ApplicationError(
        "the slack webhook in $HOOK_URL answered HTTP 503", type="NotificationUndelivered"
    )
    record = DeliveryRecord.failure(notice, retries_ran_out("send_notification", cause), attempts=5)
    assert (record.delivered, record.attempts, record.event) == (False, 5, NotifyEvent.COMPLETED)
    assert record.error == "the slack webhook in $HOOK_URL answered HTTP 503"
