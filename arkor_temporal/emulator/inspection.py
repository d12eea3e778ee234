"""The ``/_emulator`` inspection surface: no auth, not part of the Arkor API.

* ``GET  /_emulator/jobs``: every job with its counters (``createdCount`` is
  how many ``POST /v1/jobs`` resolved to the job, idempotent replays included)
* ``GET  /_emulator/jobs/{id}/events``: the stored history with its ids, in stream order
* ``GET  /_emulator/jobs/{id}/cancels``: every cancel request and its answer
* ``GET  /_emulator/inference[?jobId=]``: every inference call
* ``GET  /_emulator/create-attempts``: every ``POST /v1/jobs`` received
* ``GET|POST /_emulator/faults``: read or replace the global fault set
* ``GET|POST /_emulator/settings``: read or replace the global settings
  (``GlobalSettings``: ``logging``, ``honourIdempotencyKey``, ``rejectBareStepNumbers``)
* ``POST /_emulator/reset``: forget jobs, calls, runtime faults, settings and counters
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from arkor_temporal.emulator.api import json_body, marker_of
from arkor_temporal.emulator.config import GlobalSettings
from arkor_temporal.emulator.errors import ApiError
from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.store import Job, Store

M = TypeVar("M", bound=BaseModel)


class Inspection:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/_emulator/jobs", self.jobs, methods=["GET"]),
            Route("/_emulator/jobs/{job_id}", self.forget, methods=["DELETE"]),
            Route("/_emulator/jobs/{job_id}/events", self.events, methods=["GET"]),
            Route("/_emulator/jobs/{job_id}/cancels", self.cancels, methods=["GET"]),
            Route("/_emulator/inference", self.inference, methods=["GET"]),
            Route("/_emulator/create-attempts", self.create_attempts, methods=["GET"]),
            Route("/_emulator/faults", self.get_faults, methods=["GET"]),
            Route("/_emulator/faults", self.set_faults, methods=["POST"]),
            Route("/_emulator/settings", self.get_settings, methods=["GET"]),
            Route("/_emulator/settings", self.set_settings, methods=["POST"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
        ]

    def _job(self, request: Request) -> Job:
        job = self.store.jobs.get(request.path_params["job_id"])
        if job is None:
            raise ApiError(404, "not found")
        return job

    async def jobs(self, _request: Request) -> Response:
        return JSONResponse({"jobs": [_summary(job) for job in self.store.jobs.values()]})

    async def forget(self, request: Request) -> Response:
        self.store.forget(self._job(request))
        return Response(status_code=204)

    async def events(self, request: Request) -> Response:
        events = [{"id": e.id, "type": e.type, "data": e.data} for e in self._job(request).events]
        return JSONResponse({"events": events})

    async def cancels(self, request: Request) -> Response:
        cancels = [
            {"at": c.at, "statusBefore": c.status_before, "answer": c.answer}
            for c in self._job(request).cancels
        ]
        return JSONResponse({"cancels": cancels})

    async def inference(self, request: Request) -> Response:
        job_id = request.query_params.get("jobId")
        calls = [c for c in self.store.inference_calls if job_id is None or c["jobId"] == job_id]
        return JSONResponse({"calls": calls})

    async def create_attempts(self, _request: Request) -> Response:
        return JSONResponse({"attempts": self.store.create_attempts})

    async def get_faults(self, _request: Request) -> Response:
        return JSONResponse({"faults": self.store.global_faults.wire()})

    async def set_faults(self, request: Request) -> Response:
        faults = _validated(Faults, await json_body(request), "faults")
        self.store.set_global_faults(faults)
        return JSONResponse({"faults": faults.wire()})

    async def get_settings(self, _request: Request) -> Response:
        return JSONResponse({"settings": self.store.settings.wire()})

    async def set_settings(self, request: Request) -> Response:
        settings = _validated(GlobalSettings, await json_body(request), "settings")
        self.store.set_settings(settings)
        return JSONResponse({"settings": settings.wire()})

    async def reset(self, _request: Request) -> Response:
        self.store.reset()
        return JSONResponse({"ok": True})


def _validated(model: type[M], body: Any, what: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, f"invalid {what}: {exc.errors(include_url=False)}") from None


def _summary(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "idempotencyKey": job.idempotency_key,
        "marker": marker_of(job.config),
        "createdCount": job.created_count,
        "eventsEmitted": len(job.events),
        "cancelCalls": len(job.cancels),
        "streamOpens": job.stream_opens,
    }
