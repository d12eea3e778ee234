"""ASGI middlewares wrapped around the Starlette app, outermost first:

* :class:`ConnectionAbortMiddleware` lets a handler cut its TCP connection
  (lost responses, mid-stream drops) so the client sees a transport error;
* :class:`DeprecationMiddleware` adds the docs/protocol.md §1.5 headers to every response;
* :class:`VersionGateMiddleware` answers 426 without a valid ``X-Arkor-Client``;
* :class:`GlobalFaultMiddleware` injects global 5xx answers on ``/v1`` routes
  (a ``serverErrorBurst`` counts per job for a job's routes, see ``faults``).

The inspection prefix ``/_emulator`` bypasses the gate and the faults.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arkor_temporal.emulator.config import (
    CLIENT_HEADER_FORMAT,
    DEPRECATION_SUNSET,
    DEPRECATION_WARNING,
)
from arkor_temporal.emulator.errors import injected_error
from arkor_temporal.emulator.store import Store

ABORT_KEY = "emulator.abort_connection"
INSPECTION_PREFIX = "/_emulator"
JOB_PATH = re.compile(r"^/v1/jobs/([^/]+)")


def abort_callback(scope: Scope) -> Callable[[], None]:
    abort: Callable[[], None] = scope[ABORT_KEY]
    return abort


def _is_api(scope: Scope) -> bool:
    return scope["type"] == "http" and not scope["path"].startswith(INSPECTION_PREFIX)


def _subject(scope: Scope) -> str:
    """Whom a request is about, for counted faults: its job, or "" for everything else."""
    match = JOB_PATH.match(scope["path"])
    return match.group(1) if match else ""


class ConnectionAbortMiddleware:
    """Gives handlers ``scope[ABORT_KEY]``: close the socket, swallow what follows.

    ASGI has no "abort" message, and returning or raising without a complete
    response makes uvicorn send a 500 or log an error. So we close uvicorn's
    transport ourselves (reached through its ``send`` bound method) and drop
    every later message: the client sees a connection closed without a
    response, or a chunked body that never ends, i.e. a transport error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        aborted = False

        def abort() -> None:
            nonlocal aborted
            aborted = True
            if isinstance(transport, asyncio.BaseTransport):
                transport.close()

        async def guarded_send(message: Message) -> None:
            if not aborted:
                await send(message)

        scope[ABORT_KEY] = abort
        await self.app(scope, receive, guarded_send)
        if aborted:
            # Let the loop run connection_lost so uvicorn sees a disconnected
            # client rather than an app that "forgot" to respond.
            for _ in range(3):
                await asyncio.sleep(0)


class DeprecationMiddleware:
    def __init__(self, app: ASGIApp, enabled: Callable[[], bool]) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (_is_api(scope) and self.enabled()):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Deprecation"] = "true"
                headers["Warning"] = f'299 - "{DEPRECATION_WARNING}"'
                headers["Sunset"] = DEPRECATION_SUNSET
            await send(message)

        await self.app(scope, receive, send_with_headers)


class VersionGateMiddleware:
    def __init__(self, app: ASGIApp, supported: str) -> None:
        self.app = app
        self.well_formed = re.compile(CLIENT_HEADER_FORMAT)
        self.supported = re.compile(supported)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_api(scope):
            await self.app(scope, receive, send)
            return
        value = Headers(scope=scope).get("x-arkor-client")
        body: dict[str, str] | None = None
        if value is None or not self.well_formed.match(value):
            body = {
                "currentVersion": "unknown",
                "supportedRange": "*",
                "reason": "missing" if value is None else "malformed",
            }
        elif not self.supported.match(value):
            body = {
                "currentVersion": value.split("/", 1)[1],
                "supportedRange": self.supported.pattern,
            }
        if body is None:
            await self.app(scope, receive, send)
            return
        payload = {
            "error": "sdk_version_unsupported",
            "upgrade": "npm install -g arkor@latest",
            **body,
        }
        await JSONResponse(payload, status_code=426)(scope, receive, send)


class GlobalFaultMiddleware:
    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.store.global_faults
        if _is_api(scope) and self.store.global_injector.should_fail(_subject(scope), faults):
            await injected_error(faults)(scope, receive, send)
            return
        await self.app(scope, receive, send)
