"""The worker's health endpoints, for container probes: ``/healthz`` and ``/readyz``.

* ``GET /healthz`` (liveness): 200 whenever the worker's event loop answers. A
  worker that fails it is stuck and should be restarted.
* ``GET /readyz`` (readiness): 200 only when Temporal answers, every poller of
  the worker's three queues runs, and the Arkor API answers an authenticated
  call; 503 otherwise, with the failing check named. A worker that fails it
  stays up (its streams go on) but should get no new traffic and may be
  alerted on.

:class:`MetricsServer` serves ``GET /metrics`` (Prometheus' text) on the same
machinery, on an address of its own (``--metrics``).

A small HTTP/1.1 server on asyncio streams: the probes need nothing more, and a
production install carries no web framework for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Self

log = logging.getLogger("arkor_temporal.worker")

CHECK_TIMEOUT = 3.0  # seconds each readiness check may take

Check = Callable[[], Awaitable[None]]  # raises when not ready


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object] | bytes  # a dict is sent as JSON
    content_type: str = "application/json"


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


class _Endpoint:
    """A GET-only HTTP/1.1 server on ``host:port`` while used as an async context manager."""

    def __init__(self, address: str) -> None:
        self.address = address
        host, _, port = address.rpartition(":")
        self._host, self._port = host or "0.0.0.0", int(port)
        self._server: asyncio.Server | None = None

    async def _answer(self, path: str) -> Answer:
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CHECK_TIMEOUT)
            method, path, *_ = request.decode("latin-1").split(" ", 2)
            answer = (
                await self._answer(path.split("?", 1)[0])
                if method in ("GET", "HEAD")
                else Answer(405, {"error": "GET only"})
            )
            body = (
                answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            )
            reason = _REASONS.get(answer.status, "Service Unavailable")
            head = (
                f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: {answer.content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (body if method == "GET" else b""))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, ConnectionError):
            pass  # a client that hung up or sent garbage gets nothing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _started(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        self._started()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class HealthServer(_Endpoint):
    """Serves the probes on ``host:port`` while used as an async context manager."""

    def __init__(self, address: str, checks: Mapping[str, Check]) -> None:
        super().__init__(address)
        self._checks = dict(checks)

    async def readiness(self) -> Answer:
        results = await asyncio.gather(*(self._run(check) for check in self._checks.values()))
        checks = dict(zip(self._checks, results, strict=True))
        ready = all(result == "ok" for result in checks.values())
        return Answer(200 if ready else 503, {"ready": ready, "checks": checks})

    async def _run(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT:g} s"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return "ok"

    async def _answer(self, path: str) -> Answer:
        if path == "/healthz":
            return Answer(200, {"alive": True})
        if path == "/readyz":
            return await self.readiness()
        return Answer(404, {"error": "try /healthz or /readyz"})

    def _started(self) -> None:
        log.info("health endpoints on http://%s:%d/healthz and /readyz", self._host, self._port)


class MetricsServer(_Endpoint):
    """Serves ``GET /metrics``: whatever ``render`` gives, as ``content_type``."""

    def __init__(
        self, address: str, render: Callable[[], Awaitable[bytes]], content_type: str
    ) -> None:
        super().__init__(address)
        self._render = render
        self._content_type = content_type

    async def _answer(self, path: str) -> Answer:
        if path != "/metrics":
            return Answer(404, {"error": "try /metrics"})
        try:
            return Answer(200, await self._render(), self._content_type)
        except Exception as exc:
            log.exception("rendering the metrics failed")
            return Answer(
                500,
                f"# rendering the metrics failed: {type(exc).__name__}\n".encode(),
                self._content_type,
            )

    def _started(self) -> None:
        log.info("Prometheus metrics on http://%s:%d/metrics", self._host, self._port)
