"""Error bodies as the cloud API sends them: ``{"error": "<message>"}`` (docs/protocol.md §1.2)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from arkor_temporal.emulator.faults import Faults


class ApiError(Exception):
    """Raised anywhere in a handler; rendered by :func:`render_error`.

    ``response`` overrides the standard JSON body (injected outages may answer
    with an empty body).
    """

    def __init__(self, status: int, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.response = response


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def injected_error(faults: Faults) -> Response:
    """The synthetic outage answer of the ``serverError*`` faults."""
    status = faults.server_error_status or 503
    if faults.server_error_empty_body:
        return Response(b"", status_code=status)
    return error_response(status, "upstream unavailable")


def injected_api_error(faults: Faults) -> ApiError:
    response = injected_error(faults)
    return ApiError(response.status_code, "upstream unavailable", response)


async def render_error(_request: Request, exc: Exception) -> Response:
    """Render ``ApiError`` and Starlette's own 404/405 in the API's error shape."""
    if isinstance(exc, ApiError):
        return exc.response or error_response(exc.status, exc.message)
    assert isinstance(exc, HTTPException)
    message = "not found" if exc.status_code == 404 else str(exc.detail).lower()
    return error_response(exc.status_code, message)
