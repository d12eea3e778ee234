"""What every cloud activity needs: resolved settings, the stream policy, one client.

Settings are resolved once, on the worker (credentials never travel through
Temporal). All activities of a worker share one client and so one connection
pool (a thousand streams must not mean a thousand pools, each with its own TLS
context); the pool has no connection limit, so a stuck connection in one run
cannot stall another.

The shared client's transport observes every request: an answer with a 4xx or 5xx
status (or none at all) counts in ``arkor_backend_errors_total``, and with tracing on
each request is a client span of the activity's trace (:mod:`arkor_temporal.telemetry`).
The Arkor client itself knows nothing of either.

The wire schema (docs/protocol.md §14.13) is read here too: it describes the
backend this worker talks to, and only the activities shape what is sent, so it
belongs to the worker's context rather than to a run's spec or to the HTTP client.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import httpx

from arkor_cloud import ArkorClient, ClientSettings, ConfigurationError, ReconnectPolicy
from arkor_temporal.core.spec import WireSchema
from arkor_temporal.telemetry.metrics import BACKEND_ERRORS
from arkor_temporal.telemetry.tracing import http_span

ENV_WIRE_SCHEMA = "ARKOR_TEMPORAL_WIRE_SCHEMA"


def wire_schema_from_env(env: Mapping[str, str] | None = None) -> WireSchema:
    """``ARKOR_TEMPORAL_WIRE_SCHEMA``: ``sdk`` (the default; empty counts as unset) or ``cloud``."""
    raw = (os.environ if env is None else env).get(ENV_WIRE_SCHEMA) or WireSchema.SDK
    try:
        return WireSchema(raw)
    except ValueError:
        choices = " or ".join(schema.value for schema in WireSchema)
        raise ConfigurationError(
            f"{ENV_WIRE_SCHEMA}={raw!r} is not a wire schema: set it to {choices}, "
            "or leave it unset for sdk."
        ) from None


@dataclass(frozen=True)
class CloudContext:
    settings: ClientSettings
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    wire_schema: WireSchema = field(default_factory=wire_schema_from_env)
    # One shared client per event loop (tests run several loops in one process).
    _clients: WeakKeyDictionary[asyncio.AbstractEventLoop, ArkorClient] = field(
        default_factory=WeakKeyDictionary, repr=False, compare=False
    )

    @asynccontextmanager
    async def client(self) -> AsyncIterator[ArkorClient]:
        """The worker's shared client, borrowed for a block: leaving it does not close it."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            transport = ObservedTransport(httpx.AsyncHTTPTransport(limits=_UNBOUNDED_POOL))
            # The limits also size the pools of proxies from the environment, if any.
            client = ArkorClient(self.settings, transport=transport, limits=_UNBOUNDED_POOL)
            self._clients[loop] = client
        yield client


# Every stream holds a connection; keep-alive bounds only the idle ones kept for reuse.
_UNBOUNDED_POOL = httpx.Limits(max_connections=None, max_keepalive_connections=100)


class ObservedTransport(httpx.AsyncBaseTransport):
    """A transport that counts the Arkor API's error answers and traces each request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with http_span(request.method, request.url.host, request.url.path) as span:
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError:
                BACKEND_ERRORS.labels(status="network").inc()
                raise
            span.answered(response.status_code)
        if response.status_code >= 400:
            BACKEND_ERRORS.labels(status=str(response.status_code)).inc()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
