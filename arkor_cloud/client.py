"""Typed async client for the Arkor cloud API (docs/protocol.md §1, §2, §5)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import structlog
from httpx_sse import ServerSentEvent
from pydantic import TypeAdapter, ValidationError

from arkor_cloud._version import __version__
from arkor_cloud.deprecation import DeprecationNotice, DeprecationWatcher
from arkor_cloud.errors import ResponseDecodeError, TransportError, api_status_error
from arkor_cloud.models import (
    AnonymousToken,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    CliConfig,
    JobConfig,
    Me,
    Project,
    TrainingJob,
)
from arkor_cloud.settings import ClientSettings
from arkor_cloud.sse import SSEDecoder

__all__ = ["ArkorClient"]

T = TypeVar("T")
_log = structlog.get_logger("arkor_cloud.client")
_jobs: TypeAdapter[list[TrainingJob]] = TypeAdapter(list[TrainingJob])
_projects: TypeAdapter[list[Project]] = TypeAdapter(list[Project])
# Characters encodeURIComponent leaves alone; the SDK escapes job ids with it.
_URI_COMPONENT_SAFE = "!~*'()"


class ArkorClient:
    """One shared `httpx.AsyncClient` speaking the cloud API for one project scope.

    Non-2xx answers raise a classified `ApiStatusError`, network failures raise
    `TransportError`, and a 2xx whose body is not what the protocol promises raises
    `ResponseDecodeError`. No call retries by itself; callers decide.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_deprecation: Callable[[DeprecationNotice], None] | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self._settings = settings
        self._deprecation = DeprecationWatcher(settings.client_version, on_deprecation)
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            transport=transport,
            # httpx's default pool holds 100 connections; an event stream keeps one for
            # its whole life, so a client shared by many streams needs a larger one.
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
            timeout=settings.timeout,
            headers={
                "X-Arkor-Client": f"arkor/{settings.client_version}",
                "User-Agent": f"arkor-temporal/{__version__}",
            },
        )

    @property
    def settings(self) -> ClientSettings:
        return self._settings

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- identity and projects --------------------------------------------------------------

    async def request_anonymous_token(self, kind: str = "cli") -> AnonymousToken:
        path = "/v1/auth/anonymous"
        response = await self._request("POST", path, json={"kind": kind}, auth=False)
        return _decode(response, AnonymousToken.model_validate)

    async def get_cli_config(self) -> CliConfig:
        response = await self._request("GET", "/v1/auth/cli/config", auth=False)
        return _decode(response, CliConfig.model_validate)

    async def me(self) -> Me:
        return _decode(await self._request("GET", "/v1/me"), Me.model_validate)

    async def list_projects(self, org_slug: str | None = None) -> list[Project]:
        params = {"orgSlug": org_slug or self._settings.org_slug}
        response = await self._request("GET", "/v1/projects", params=params)
        return _decode(response, _projects.validate_python, key="projects")

    async def create_project(self, name: str, slug: str, org_slug: str | None = None) -> Project:
        params = {"orgSlug": org_slug or self._settings.org_slug}
        body = {"name": name, "slug": slug}
        response = await self._request("POST", "/v1/projects", params=params, json=body)
        return _decode(response, Project.model_validate, key="project")

    # --- jobs -------------------------------------------------------------------------------

    async def create_job(
        self,
        name: str,
        config: JobConfig | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> TrainingJob:
        """`POST /v1/jobs`. A mapping is sent as given: the server owns config validation."""
        wire_config = config.to_wire() if isinstance(config, JobConfig) else dict(config)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        response = await self._request(
            "POST",
            "/v1/jobs",
            params=self._scope,
            json={"name": name, "config": wire_config},
            headers=headers,
        )
        return _decode(response, TrainingJob.model_validate, key="job")

    async def list_jobs(self) -> list[TrainingJob]:
        response = await self._request("GET", "/v1/jobs", params=self._scope)
        return _decode(response, _jobs.validate_python, key="jobs")

    async def get_job(self, job_id: str) -> TrainingJob:
        response = await self._request("GET", _job_path(job_id), params=self._scope)
        return _decode(response, TrainingJob.model_validate, key="job")

    async def cancel_job(self, job_id: str) -> None:
        """Any 2xx means accepted; a terminal job answers 409 (`TransientApiError`)."""
        await self._request("POST", f"{_job_path(job_id)}/cancel", params=self._scope)

    @asynccontextmanager
    async def open_event_stream(
        self,
        job_id: str,
        *,
        last_event_id: str | None = None,
        read_timeout: float | None = None,
    ) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
        """Open the job's SSE stream and yield its raw frames.

        `read_timeout` bounds the silence between two reads (None: wait forever). A
        non-2xx open raises the classified `ApiStatusError`; a failure while reading
        raises `TransportError`.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        timeouts = httpx.Timeout(self._settings.timeout, read=read_timeout)
        path = f"{_job_path(job_id)}/events/stream"
        async with self._open_sse(
            "GET", path, params=self._scope, headers=headers, timeouts=timeouts
        ) as frames:
            yield frames

    # --- inference --------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatCompletion:
        body = request.model_copy(update={"stream": False}).to_wire()
        response = await self._request("POST", "/v1/inference/chat", params=self._scope, json=body)
        return _decode(response, ChatCompletion.model_validate)

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatCompletionChunk]:
        """Stream OpenAI chunks; end at `data: [DONE]` or `event: end` (docs/protocol.md §5.3)."""
        body = request.model_copy(update={"stream": True}).to_wire()
        async with self._open_sse(
            "POST",
            "/v1/inference/chat",
            params=self._scope,
            json=body,
            headers={"Accept": "text/event-stream"},
        ) as frames:
            async for sse in frames:
                if sse.event == "end" or sse.data == "[DONE]":
                    return
                if sse.event == "ping":
                    continue
                try:
                    yield ChatCompletionChunk.model_validate_json(sse.data)
                except ValidationError:
                    _log.debug("arkor_cloud.chat.chunk_skipped", sse_event=sse.event)

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def _scope(self) -> dict[str, str]:
        return {"orgSlug": self._settings.org_slug, "projectSlug": self._settings.project_slug}

    def _build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        auth: bool,
        timeouts: httpx.Timeout | None = None,
    ) -> httpx.Request:
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {self._settings.token.get_secret_value()}"
        return self._http.build_request(
            method,
            path,
            params=params,
            json=json,
            headers=all_headers,
            timeout=timeouts if timeouts is not None else httpx.USE_CLIENT_DEFAULT,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        request = self._build(method, path, params=params, json=json, headers=headers, auth=auth)
        response = await self._send(request, stream=False)
        self._raise_for_status(response, response.text)
        return response

    @asynccontextmanager
    async def _open_sse(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        json: Any = None,
        timeouts: httpx.Timeout | None = None,
    ) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
        request = self._build(
            method, path, params=params, json=json, headers=headers, auth=True, timeouts=timeouts
        )
        response = await self._send(request, stream=True)
        frames = _iter_sse(response)
        try:
            if not response.is_success:
                self._raise_for_status(response, await _read_error_body(response))
            yield frames
        finally:
            # Close the frame iterator before the response so nothing reads a closed body.
            await frames.aclose()
            await response.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.RequestError as exc:
            raise _transport_error(request, exc) from exc
        _log.debug(
            "arkor_cloud.response",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
        )
        return response

    def _raise_for_status(self, response: httpx.Response, body: str) -> None:
        # docs/protocol.md §1.5: deprecation headers are honoured on error responses too.
        self._deprecation.check(response)
        if response.is_success:
            return
        raise api_status_error(
            status=response.status_code,
            body=body,
            method=response.request.method,
            path=response.request.url.path,
            client_version=self._settings.client_version,
        )


def _job_path(job_id: str) -> str:
    return f"/v1/jobs/{quote(job_id, safe=_URI_COMPONENT_SAFE)}"


def _transport_error(request: httpx.Request, exc: httpx.RequestError) -> TransportError:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return TransportError(f"{request.method} {request.url.path} failed: {detail}")


async def _read_error_body(response: httpx.Response) -> str:
    # docs/protocol.md §1.2: a body that cannot be read counts as empty.
    try:
        await response.aread()
    except httpx.RequestError:
        return ""
    return response.text


async def _iter_sse(response: httpx.Response) -> AsyncGenerator[ServerSentEvent, None]:
    content_type = response.headers.get("content-type", "").partition(";")[0]
    if "text/event-stream" not in content_type:
        request = response.request
        raise TransportError(
            f"{request.method} {request.url.path}: expected text/event-stream, got {content_type!r}"
        )
    decoder = SSEDecoder()
    try:
        async for chunk in response.aiter_bytes():
            for sse in decoder.feed(chunk):
                yield sse
    except httpx.RequestError as exc:
        raise _transport_error(response.request, exc) from exc


def _decode(response: httpx.Response, validate: Callable[[Any], T], *, key: str | None = None) -> T:
    where = f"{response.request.method} {response.request.url.path}"
    try:
        payload = response.json()
    except ValueError:
        raise ResponseDecodeError(f"{where}: response body is not JSON") from None
    if key is not None:
        if not isinstance(payload, dict) or key not in payload:
            raise ResponseDecodeError(f"{where}: response has no {key!r} member")
        payload = payload[key]
    try:
        return validate(payload)
    except ValidationError as exc:
        # Described without input values: a payload may hold a token.
        prefix = () if key is None else (key,)
        problems = "; ".join(
            f"{'.'.join(map(str, (*prefix, *e['loc']))) or '<root>'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ResponseDecodeError(f"{where}: unexpected response: {problems}") from None
