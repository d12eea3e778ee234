"""A real webhook receiver on loopback for tests: records every POST, dedupes by key.

It behaves like a careful Slack/Discord/webhook consumer: a request whose
``Idempotency-Key`` was already accepted is answered 200 and dropped, so
``messages`` holds what a user would see and ``requests`` everything sent.
``fail_next`` makes the next requests answer an error status first.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class _Failure:
    remaining: int
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.messages: list[Received] = []
        self._failure: _Failure | None = None
        self._delays: list[float] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None) -> None:
        self._failure = _Failure(count, status, headers or {})

    def delay_next(self, count: int, *, seconds: float) -> None:
        """Accept the next ``count`` requests at once but answer them only after ``seconds``
        (a window in which the sender can die with its delivery in flight)."""
        self._delays = [seconds] * count

    def _answer(self, received: Received) -> tuple[int, dict[str, str]]:
        with self._lock:
            self.requests.append(received)
            if self._failure and self._failure.remaining > 0:
                self._failure.remaining -= 1
                return self._failure.status, self._failure.headers
            if received.key is None or all(m.key != received.key for m in self.messages):
                self.messages.append(received)
            return 200, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                received = Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw or b"{}"),
                )
                status, headers = receiver._answer(received)
                with receiver._lock:
                    delay = receiver._delays.pop(0) if receiver._delays else 0.0
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                # The default handler prints request paths, which hold the webhook's secret.
                pass

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
