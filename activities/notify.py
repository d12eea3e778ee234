"""Delivering one notification to its webhook (see :mod:`arkor_temporal.notifications`).

The URL is read from the worker's environment here and used for one POST;
it never reaches a log line, an exception or Temporal. The request goes
through an httpx transport directly rather than a client because httpx's
client logs every request URL at INFO level. Redirects are not followed.

Outcomes: 2xx is delivered; a missing variable or a 4xx the receiver would
give again (bad URL, revoked webhook) is recorded as undelivered, as retrying
cannot help; a network failure, 408, 425, 429 or 5xx raises a retryable
``NotificationUndelivered`` error (honouring ``Retry-After``) so Temporal
retries under the workflow's policy. Nothing here can fail the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from arkor_temporal.core.names import ActivityName, FailureType
from arkor_temporal.core.notifications import (
    DeliveryRecord,
    NotificationInput,
    build_message,
    web_ui_link,
)
from arkor_temporal.telemetry.metrics import NOTIFICATIONS

UI_URL_ENV = "ARKOR_TEMPORAL_UI_URL"
DEFAULT_UI_URL = "http://localhost:8233"
_RETRYABLE_STATUSES = frozenset({408, 425, 429})
_MAX_RETRY_AFTER = 300.0


def redact(text: str, url: str) -> str:
    """``text`` with the URL and its secret-bearing parts (path, query, userinfo) removed."""
    parts = urlsplit(url)
    secrets = {url, url.rstrip("/"), parts.netloc + parts.path, parts.path, parts.query}
    secrets |= {parts.username or "", parts.password or ""}
    for secret in sorted((s for s in secrets if len(s) > 1), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def _retry_after(response: httpx.Response) -> timedelta | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return timedelta(seconds=min(max(seconds, 0.0), _MAX_RETRY_AFTER))


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def _post(
    url: str, body: dict[str, Any], key: str, timeouts: httpx.Timeout
) -> httpx.Response:
    request = httpx.Request(
        "POST",
        url,
        json=body,
        headers={"Idempotency-Key": key, "User-Agent": "arkor-temporal"},
        extensions={"timeout": timeouts.as_dict()},
    )
    async with httpx.AsyncHTTPTransport() as transport:
        response = await transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    return response


class NotifyActivities:
    def __init__(
        self, environ: Mapping[str, str] | None = None, *, timeout_seconds: float = 10.0
    ) -> None:
        self._environ = environ
        self._timeout = httpx.Timeout(timeout_seconds)

    @activity.defn(name=ActivityName.SEND_NOTIFICATION)
    async def send_notification(self, notification: NotificationInput) -> DeliveryRecord:
        try:
            record = await self._send(notification)
        except Exception:
            NOTIFICATIONS.labels(outcome="retrying").inc()
            raise
        NOTIFICATIONS.labels(outcome="delivered" if record.delivered else "undelivered").inc()
        return record

    async def _send(self, notification: NotificationInput) -> DeliveryRecord:
        info = activity.info()
        env = os.environ if self._environ is None else self._environ
        where = f"the {notification.kind} webhook in ${notification.url_env}"

        def record(
            delivered: bool, status: int | None = None, error: str | None = None
        ) -> DeliveryRecord:
            return DeliveryRecord.of(
                notification,
                delivered=delivered,
                attempts=info.attempt,
                status_code=status,
                error=error,
            )

        url = env.get(notification.url_env, "").strip()
        if not url:
            return record(
                False,
                error=f"{notification.url_env} is not set on the worker; "
                "export the webhook URL in that variable",
            )
        if not _is_http_url(url):
            return record(False, error=f"{notification.url_env} does not hold an http(s) URL")

        context = notification.context
        if context.web_ui_url is None:
            base = env.get(UI_URL_ENV) or DEFAULT_UI_URL
            link = web_ui_link(base, info.namespace, context.workflow_id)
            context = context.model_copy(update={"web_ui_url": link})
        key = notification.idempotency_key
        body = build_message(notification.kind, context, idempotency_key=key)
        try:
            response = await _post(url, body, key, self._timeout)
        except httpx.HTTPError as exc:
            problem = redact(f"{type(exc).__name__}: {exc}", url)
            raise ApplicationError(
                f"{where} is unreachable ({problem})", type=FailureType.NOTIFICATION_UNDELIVERED
            ) from None

        status = response.status_code
        if response.is_success:
            activity.logger.info(
                "notified %s (%s) of %s: HTTP %s",
                notification.kind,
                notification.url_env,
                context.event.value,
                status,
            )
            return record(True, status)
        if status in _RETRYABLE_STATUSES or status >= 500:
            raise ApplicationError(
                f"{where} answered HTTP {status}",
                type=FailureType.NOTIFICATION_UNDELIVERED,
                next_retry_delay=_retry_after(response),
            )
        return record(
            False, status, f"{where} refused the message with HTTP {status}; check the URL"
        )
