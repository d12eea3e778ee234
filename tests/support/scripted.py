"""Scripted `httpx.MockTransport` backends for the follower and client unit tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from arkor_cloud import ArkorClient, ClientSettings, EventFollower, ReconnectPolicy, StreamEvent

TOKEN = "sekrit-token-123"
SETTINGS = ClientSettings(
    base_url="http://arkor.test/", token=SecretStr(TOKEN), org_slug="org", project_slug="proj"
)


def frame(type_: str, *, id: str | None = None, event: str | None = None, **fields: Any) -> str:
    """One canonical SSE frame (`event:` defaults to the type, as the emulator sends it)."""
    lines = [f"id: {id}"] if id is not None else []
    lines.append(f"event: {event or type_}")
    lines.append("data: " + json.dumps({"type": type_, "jobId": "j1", **fields}))
    return "\n".join(lines) + "\n\n"


PING = "event: ping\ndata: \n\n"
END = "event: end\ndata: \n\n"
LOG1 = frame("training.log", id="1", step=1, loss=1.0)
LOG2 = frame("training.log", id="2", step=2, loss=0.9)
DONE = frame("training.completed", id="3", artifacts=[{"pathname": "adapter.json"}])


class ChunkStream(httpx.AsyncByteStream):
    """Yields the chunks, then optionally fails or hangs like a broken connection."""

    def __init__(self, chunks: list[bytes], error: Exception | None, hang: bool) -> None:
        self.chunks, self.error, self.hang = chunks, error, hang
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Stream:
    """A 200 `text/event-stream` whose body is `frames`; `error` is raised after them."""

    frames: list[str] = field(default_factory=list)
    error: Exception | None = None
    hang: bool = False
    chunks: list[bytes] | None = None


@dataclass
class Status:
    code: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def throw() -> Exception:
    return httpx.ConnectError("connection refused")


Step = Stream | Status | Exception


MISSING = "missing"  # a job status the check answers with 404: the backend forgot the job


class Backend:
    """Stream opens consume `steps` in order; `GET /v1/jobs/:id` answers `job_status`."""

    def __init__(self, steps: list[Step], job_status: str | list[str] = "running") -> None:
        self.steps = list(steps)
        self.job_statuses = [job_status] if isinstance(job_status, str) else list(job_status)
        self.requests: list[httpx.Request] = []
        self.streams: list[ChunkStream] = []

    @property
    def opens(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/events/stream")]

    @property
    def job_checks(self) -> int:
        return sum(1 for r in self.requests if r.method == "GET" and r.url.path == "/v1/jobs/j1")

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/events/stream"):
            assert self.steps, "unplanned stream open"
            return self._answer(self.steps.pop(0))
        if request.url.path == "/v1/jobs/j1":
            status = (
                self.job_statuses.pop(0) if len(self.job_statuses) > 1 else self.job_statuses[0]
            )
            if status == MISSING:
                return httpx.Response(404, json={"error": "job not found"})
            return httpx.Response(200, json={"job": job(status)})
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def _answer(self, step: Step) -> httpx.Response:
        if isinstance(step, Exception):
            raise step
        if isinstance(step, Status):
            return httpx.Response(step.code, text=step.body, headers=step.headers)
        chunks = step.chunks if step.chunks is not None else [f.encode() for f in step.frames]
        stream = ChunkStream(chunks, step.error, step.hang)
        self.streams.append(stream)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    def client(self, **kwargs: Any) -> ArkorClient:
        return ArkorClient(SETTINGS, transport=httpx.MockTransport(self.handler), **kwargs)


def job(status: str = "running", **extra: Any) -> dict[str, Any]:
    return {
        "id": "j1",
        "orgId": "o1",
        "projectId": "p1",
        "name": "run",
        "status": status,
        "config": {"model": "unsloth/gemma-4-E4B-it"},
        "createdAt": "2026-01-01T00:00:00Z",
        "startedAt": None,
        "completedAt": None,
        **extra,
    }


def responder(
    fn: Callable[[httpx.Request], httpx.Response],
) -> tuple[ArkorClient, list[httpx.Request]]:
    """A client whose every request is answered by `fn`, plus the list of requests seen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fn(request)

    return ArkorClient(SETTINGS, transport=httpx.MockTransport(handler)), seen


async def no_sleep(_delay: float) -> None:
    return None


def follower(backend: Backend, *, random: float = 0.5, **policy: Any) -> EventFollower:
    """A follower of job `j1` whose backoff sleeps take no time (delays are still recorded)."""
    policy = {"base_delay": 0.01, "max_delay": 60.0, **policy}
    return EventFollower(
        backend.client(),
        "j1",
        policy=ReconnectPolicy(**policy),
        random=lambda: random,
        sleep=no_sleep,
    )


async def collect(f: EventFollower) -> list[StreamEvent]:
    return [event async for event in f]
