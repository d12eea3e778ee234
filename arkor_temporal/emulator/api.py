"""The Arkor cloud API routes (docs/protocol.md §2), served under ``/v1``.

Auth and scope (docs/protocol.md §12.2): a missing or unknown bearer token is 401; an
``orgSlug`` the token's identity does not belong to is 403 (unknown orgs too,
so org names do not leak); an unknown project in that org, or a job id outside
the project, is 404 ``{"error":"not found"}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from arkor_temporal.emulator.chat_request import parse_chat_request
from arkor_temporal.emulator.errors import ApiError, injected_api_error
from arkor_temporal.emulator.inference import (
    complete,
    completion_body,
    completion_chunks,
    resolve_target,
)
from arkor_temporal.emulator.middleware import abort_callback
from arkor_temporal.emulator.plan import plan_job
from arkor_temporal.emulator.simulation import start_simulation
from arkor_temporal.emulator.store import Job, Org, Project, Store, utc_now_iso
from arkor_temporal.emulator.stream import job_events, ping_only, resume_position
from arkor_temporal.emulator.triage import load_dataset

SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "request body must be valid JSON") from None


def marker_of(config: Any) -> Any:
    """The orchestrator's per-run marker, in a passthrough config key (docs/protocol.md §14.3)."""
    section = config.get("arkorTemporal") if isinstance(config, dict) else None
    return section.get("marker") if isinstance(section, dict) else None


def run_of(name: str, config: Any) -> str:
    """Which run a create request belongs to: its marker, else its job name."""
    marker = marker_of(config)
    return f"marker:{marker}" if isinstance(marker, str) else f"name:{name}"


class ArkorApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.dataset = load_dataset()

    def routes(self) -> list[Route]:
        return [
            Route("/v1/auth/anonymous", self.anonymous, methods=["POST"]),
            Route("/v1/auth/cli/config", self.cli_config, methods=["GET"]),
            Route("/v1/me", self.me, methods=["GET"]),
            Route("/v1/projects", self.list_projects, methods=["GET"]),
            Route("/v1/projects", self.create_project, methods=["POST"]),
            Route("/v1/jobs", self.list_jobs, methods=["GET"]),
            Route("/v1/jobs", self.create_job, methods=["POST"]),
            Route("/v1/jobs/{job_id}", self.get_job, methods=["GET"]),
            Route("/v1/jobs/{job_id}/cancel", self.cancel_job, methods=["POST"]),
            Route("/v1/jobs/{job_id}/events/stream", self.stream_events, methods=["GET"]),
            Route("/v1/inference/chat", self.chat, methods=["POST"]),
        ]

    # -- auth and scope helpers ----------------------------------------------

    def _user(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self.store.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "unauthorized")
        return user

    def _org(self, request: Request, user: str) -> Org:
        slug = request.query_params.get("orgSlug")
        if not slug:
            raise ApiError(400, "orgSlug query parameter is required")
        org = self.store.orgs.get(slug)
        if org is None or user not in org.members:
            raise ApiError(403, "forbidden: not a member of this organization")
        return org

    def _project(self, request: Request) -> Project:
        org = self._org(request, self._user(request))
        slug = request.query_params.get("projectSlug")
        if not slug:
            raise ApiError(400, "projectSlug query parameter is required")
        project = self.store.projects.get((org.id, slug))
        if project is None:
            raise ApiError(404, "not found")
        return project

    def _job(self, request: Request) -> Job:
        project = self._project(request)
        job = self.store.jobs.get(request.path_params["job_id"])
        if job is None or job.project_id != project.id:
            raise ApiError(404, "not found")
        self._inject_job_faults(job)
        return job

    def _inject_job_faults(self, job: Job) -> None:
        """Per-job ``serverErrorBurst``/``serverErrorRate``, for requests about ``job``."""
        if job.injector.should_fail(job.id, job.plan.faults):
            raise injected_api_error(self.store.faults_for(job))

    # -- identity routes -----------------------------------------------------

    async def anonymous(self, request: Request) -> Response:
        body = await json_body(request)
        kind = body.get("kind") if isinstance(body, dict) else None
        if kind not in ("cli", "web"):
            raise ApiError(400, 'kind must be "cli" or "web"')
        token, anonymous_id, org = self.store.issue_anonymous()
        return JSONResponse(
            {"token": token, "anonymousId": anonymous_id, "kind": kind, "personalOrg": org.wire()}
        )

    async def cli_config(self, _request: Request) -> Response:
        # OAuth is not configured: the CLI then falls back to anonymous sessions.
        return JSONResponse(
            {"auth0Domain": None, "clientId": None, "audience": None, "callbackPorts": []}
        )

    async def me(self, request: Request) -> Response:
        user = self._user(request)
        orgs = [org.wire() for org in self.store.orgs_of(user)]
        return JSONResponse({"user": {"id": user, "email": None}, "orgs": orgs})

    async def list_projects(self, request: Request) -> Response:
        org = self._org(request, self._user(request))
        projects = [p.wire() for p in self.store.projects_of(org)]
        return JSONResponse({"org": org.wire(), "projects": projects})

    async def create_project(self, request: Request) -> Response:
        org = self._org(request, self._user(request))
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        name, slug = body.get("name"), body.get("slug")
        if not (isinstance(name, str) and name and isinstance(slug, str) and slug):
            raise ApiError(400, "name and slug must be non-empty strings")
        project = self.store.create_project(org, name, slug)
        if project is None:
            raise ApiError(409, f"project slug {slug!r} already exists")
        return JSONResponse({"project": project.wire()}, status_code=201)

    # -- job routes ----------------------------------------------------------

    async def list_jobs(self, request: Request) -> Response:
        project = self._project(request)
        return JSONResponse({"jobs": [job.wire() for job in self.store.jobs_in(project)]})

    async def create_job(self, request: Request) -> Response:
        project = self._project(request)
        key = request.headers.get("idempotency-key") or None
        attempt: dict[str, Any] = {"at": utc_now_iso(), "idempotencyKey": key, "marker": None}
        attempt.update(jobId=None, created=False, responseLost=False, status=None)
        self.store.create_attempts.append(attempt)
        try:
            response = await self._create_job(request, project, key, attempt)
        except ApiError as exc:
            attempt["status"] = exc.status
            raise
        attempt["status"] = response.status_code
        return response

    async def _create_job(
        self, request: Request, project: Project, key: str | None, attempt: dict[str, Any]
    ) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        config = body.get("config")
        attempt["marker"] = marker_of(config)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "name must be a non-empty string")
        self._validate_config(config)
        assert isinstance(config, dict)
        existing = self.store.find_idempotent(project, key)
        if existing is not None:
            # A switch, not the real cloud (docs/protocol.md §14.3): same key, same job.
            existing.created_count += 1
            attempt["jobId"] = existing.id
            return JSONResponse(
                {"job": existing.wire()}, status_code=201, headers={"Idempotent-Replayed": "true"}
            )
        try:
            plan = plan_job(
                config,
                default_queue_seconds=self.store.config.queue_seconds,
                default_logging=self.store.settings.logging,
                reject_bare_step_numbers=self.store.settings.reject_bare_step_numbers,
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        job = self.store.create_job(project, name, config, plan, key)
        start_simulation(self.store, job)
        attempt.update(jobId=job.id, created=True)
        if self.store.should_lose_create_response(run_of(name, config), plan.faults):
            attempt["responseLost"] = True
            abort_callback(request.scope)()
        return JSONResponse({"job": job.wire()}, status_code=201)

    def _validate_config(self, config: Any) -> None:
        if not isinstance(config, dict):
            raise ApiError(400, "config must be an object")
        model = config.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "config.model is required")
        if not isinstance(config.get("datasetSource"), dict):
            raise ApiError(400, "config.datasetSource is required")
        supported = self.store.config.supported_models
        if model not in supported:
            raise ApiError(400, f'Unsupported model "{model}". Supported: {", ".join(supported)}')

    async def get_job(self, request: Request) -> Response:
        return JSONResponse({"job": self._job(request).wire()})

    async def cancel_job(self, request: Request) -> Response:
        job = self._job(request)
        delay = self.store.faults_for(job).cancel_delay_seconds
        if delay:
            await asyncio.sleep(delay)
        status, body = self.store.cancel(job)
        return JSONResponse(body, status_code=status)

    async def stream_events(self, request: Request) -> Response:
        job = self._job(request)
        faults = self.store.faults_for(job)
        job.stream_opens += 1
        opened = job.stream_opens
        if opened <= (faults.stream_not_found_first or 0):
            raise ApiError(404, "not found")
        if faults.slow_start_seconds:
            await asyncio.sleep(faults.slow_start_seconds)
        if opened <= (faults.empty_stream_first or 0):
            return Response(b"", headers=SSE_HEADERS)
        if opened <= (faults.ping_only_first or 0):
            return StreamingResponse(
                ping_only(job, self.store.config.ping_interval), headers=SSE_HEADERS
            )
        position = resume_position(job, request.headers.get("last-event-id"))
        body = job_events(self.store, job, position, faults, abort_callback(request.scope))
        return StreamingResponse(body, headers=SSE_HEADERS)

    # -- inference -------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        project = self._project(request)
        call: dict[str, Any] = {"at": utc_now_iso(), "jobId": None, "adapterKind": None}
        call.update(step=None, baseModel=None, stream=None, status=None)
        self.store.inference_calls.append(call)
        try:
            response = await self._chat(request, project, call)
        except ApiError as exc:
            call["status"] = exc.status
            raise
        call["status"] = response.status_code
        return response

    async def _chat(self, request: Request, project: Project, call: dict[str, Any]) -> Response:
        chat = parse_chat_request(await json_body(request))
        adapter = chat.adapter or {}
        call.update(
            jobId=adapter.get("jobId"),
            adapterKind=adapter.get("kind"),
            step=adapter.get("step"),
            baseModel=chat.base_model,
            stream=chat.stream,
        )
        jobs = {job.id: job for job in self.store.jobs_in(project)}
        target = resolve_target(chat, jobs, self.store.config.supported_models)
        faults = self.store.global_faults
        if target.job is not None:
            self._inject_job_faults(target.job)
            faults = self.store.faults_for(target.job)
        if chat.wants_auto_tools and faults.tool_calling_not_configured:
            raise ApiError(400, "tool_calling_not_configured")
        if faults.inference_delay_seconds:
            await asyncio.sleep(faults.inference_delay_seconds)
        seed = self.store.config.seed
        completion = complete(chat, target, self.dataset, seed, len(self.store.inference_calls))
        if chat.stream:
            return StreamingResponse(completion_chunks(completion), headers=SSE_HEADERS)
        return JSONResponse(completion_body(completion))
