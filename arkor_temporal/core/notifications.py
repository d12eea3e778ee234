"""Notifications: Slack, Discord and generic JSON webhooks on a run's outcomes.

The spec names the *environment variable* holding each webhook URL
(``urlEnv``), never the URL: a webhook URL is a credential, and anything in a
spec ends up in Temporal history. The URL is read on the worker at delivery
time and appears nowhere else (not in payloads, logs or error messages).

Once-per-run delivery: the workflow decides each (event, notification) once
and the activity sends an ``Idempotency-Key`` header (also ``idempotencyKey``
in the generic body) derived from the workflow id, the event and the
notification's index in the spec. A retried or repeated delivery (say, after a
worker was killed between the POST and the activity's completion) carries the
same key, so a receiver can drop the duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from arkor_temporal.core.failures import activity_failure_text
from arkor_temporal.core.spec_base import ENV_NAME, SpecModel

NotificationKind = Literal["slack", "discord", "webhook"]


class NotifyEvent(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    EVAL_REGRESSION = "evalRegression"


_HEADLINES = {
    NotifyEvent.COMPLETED: ("✅", "training completed", 0x2EB67D),
    NotifyEvent.FAILED: ("❌", "training failed", 0xE01E5A),
    NotifyEvent.CANCELLED: ("⏹️", "run cancelled", 0x9E9E9E),
    NotifyEvent.STOPPED: ("🛑", "run stopped early", 0xECB22E),
    NotifyEvent.EVAL_REGRESSION: ("📉", "eval score regressed", 0xECB22E),
}


class NotificationSpec(SpecModel):
    kind: NotificationKind
    url_env: str = Field(description="worker environment variable holding the webhook URL")
    on: list[NotifyEvent] = Field(
        default_factory=lambda: [
            NotifyEvent.COMPLETED,
            NotifyEvent.FAILED,
            NotifyEvent.CANCELLED,
            NotifyEvent.STOPPED,
        ],
        min_length=1,
    )

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: Any) -> Any:
        # YAML 1.1 (PyYAML) reads a bare `on:` key as the boolean true.
        if isinstance(data, Mapping) and True in data and "on" not in data:
            return {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="before")
    @classmethod
    def _refuse_literal_url(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and ({"url", "webhookUrl", "webhook_url"} & set(data)):
            raise ValueError(
                "a literal webhook URL is not allowed in a spec (it is a secret and would be "
                "stored in Temporal history); put it in an environment variable on the worker "
                "and set urlEnv to that variable's name"
            )
        return data

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(
                "must be the name of an environment variable, such as SLACK_WEBHOOK_URL "
                "(not the URL itself)"
            )
        return value

    @field_validator("on")
    @classmethod
    def _unique(cls, events: list[NotifyEvent]) -> list[NotifyEvent]:
        return list(dict.fromkeys(events))


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class NotificationContext(_Payload):
    """What a message says about the run; built by the workflow, no secrets."""

    workflow_id: str
    run_name: str
    event: NotifyEvent
    status: str
    reason: str = ""
    job_id: str | None = None
    steps: int = 0
    max_steps: int | None = None
    last_loss: float | None = None
    best_eval_score: float | None = None
    best_eval_step: int | None = None
    web_ui_url: str | None = Field(default=None, description="filled in by the worker if unset")


class NotificationInput(_Payload):
    """Input of the ``send_notification`` activity."""

    index: int = Field(ge=0, description="the notification's position in the spec")
    kind: NotificationKind
    url_env: str
    context: NotificationContext

    @property
    def idempotency_key(self) -> str:
        return notification_key(self.context.workflow_id, self.context.event, self.index)

    @property
    def summary(self) -> str:
        return f"notify {self.kind} ({self.url_env}) of {self.context.event.value}"


class DeliveryRecord(_Payload):
    """What became of one notification; kept in the run's result."""

    index: int
    kind: NotificationKind
    event: NotifyEvent
    delivered: bool
    status_code: int | None = None
    attempts: int
    error: str | None = None

    @classmethod
    def of(
        cls,
        notification: NotificationInput,
        *,
        delivered: bool,
        attempts: int,
        status_code: int | None = None,
        error: str | None = None,
    ) -> DeliveryRecord:
        return cls(
            index=notification.index,
            kind=notification.kind,
            event=notification.context.event,
            delivered=delivered,
            status_code=status_code,
            attempts=attempts,
            error=error,
        )

    @classmethod
    def failure(
        cls, notification: NotificationInput, error: BaseException, attempts: int
    ) -> DeliveryRecord:
        """The record of a delivery whose retries are exhausted (the workflow catches the error).

        Activity errors never contain the URL, so their text is safe to keep.
        """
        return cls.of(
            notification, delivered=False, attempts=attempts, error=activity_failure_text(error)
        )


def notification_key(workflow_id: str, event: str, index: int) -> str:
    """``arkor-`` + 40 hex digits of sha256 over (workflow id, event, index)."""
    digest = hashlib.sha256(f"{workflow_id}\n{event}\n{index}".encode()).hexdigest()
    return f"arkor-{digest[:40]}"


def plan_notifications(
    specs: Sequence[NotificationSpec], context: NotificationContext
) -> list[NotificationInput]:
    """The deliveries an event calls for, one per notification that subscribes to it."""
    return [
        NotificationInput(index=index, kind=spec.kind, url_env=spec.url_env, context=context)
        for index, spec in enumerate(specs)
        if context.event in spec.on
    ]


def web_ui_link(base_url: str, namespace: str, workflow_id: str) -> str:
    """The run's page in the Temporal Web UI (the latest run of the workflow id)."""
    return (
        f"{base_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )


# --- messages -------------------------------------------------------------------------------


def _title(context: NotificationContext) -> str:
    emoji, headline, _colour = _HEADLINES[context.event]
    return f"{emoji} {context.run_name}: {headline}"


def _facts(context: NotificationContext) -> list[tuple[str, str]]:
    steps = f"{context.steps}/{context.max_steps}" if context.max_steps else str(context.steps)
    facts = [("Status", context.status), ("Steps", steps)]
    if context.last_loss is not None:
        facts.append(("Last loss", f"{context.last_loss:.4g}"))
    if context.best_eval_score is not None:
        at = f" (step {context.best_eval_step})" if context.best_eval_step is not None else ""
        facts.append(("Best eval", f"{context.best_eval_score:.3f}{at}"))
    if context.job_id:
        facts.append(("Job", context.job_id))
    return facts


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(context: NotificationContext) -> dict[str, Any]:
    title = _title(context)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}}
    ]
    if context.reason:
        text = _slack_escape(_clip(context.reason, 2900))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"}
        for name, value in _facts(context)
    ]
    blocks.append({"type": "section", "fields": fields})
    if context.web_ui_url:
        link = f"<{context.web_ui_url}|Open in the Temporal Web UI>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
    fallback = f"{title}: {context.reason}" if context.reason else title
    return {"text": _slack_escape(_clip(fallback, 3000)), "blocks": blocks}


def _discord(context: NotificationContext) -> dict[str, Any]:
    title = _title(context)
    embed: dict[str, Any] = {
        "title": _clip(title, 256),
        "color": _HEADLINES[context.event][2],
        "fields": [
            {"name": name, "value": _clip(value, 1024), "inline": True}
            for name, value in _facts(context)
        ],
        "footer": {"text": _clip(context.workflow_id, 2048)},
    }
    if context.reason:
        embed["description"] = _clip(context.reason, 4096)
    if context.web_ui_url:
        embed["url"] = context.web_ui_url
    # Run names and reasons are user text: never let them ping @everyone.
    return {"content": _clip(title, 2000), "embeds": [embed], "allowed_mentions": {"parse": []}}


def _generic(context: NotificationContext, idempotency_key: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"text": _title(context)}
    body.update(context.model_dump(mode="json", by_alias=True))
    if idempotency_key is not None:
        body["idempotencyKey"] = idempotency_key
    return body


def build_message(
    kind: NotificationKind, context: NotificationContext, *, idempotency_key: str | None = None
) -> dict[str, Any]:
    """The JSON body for a webhook of this kind (Slack blocks, a Discord embed, or every field)."""
    if kind == "slack":
        return _slack(context)
    if kind == "discord":
        return _discord(context)
    return _generic(context, idempotency_key)
