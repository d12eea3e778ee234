"""Exception hierarchy of the Arkor cloud client.

Transport failures (the request never produced a usable response) are kept apart
from HTTP statuses (the server answered and said no). Statuses are further split
into permanent and transient following docs/protocol.md §1.3: only
401/403/410/426 are permanent; every other status falls to the retry path. The
anonymous-credentials codes of PR #100 (docs/protocol.md §14.13) are permanent too.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AnonymousCredentialsRejected",
    "ApiStatusError",
    "ArkorError",
    "ConfigurationError",
    "PermanentApiError",
    "ResponseDecodeError",
    "StreamGaveUpError",
    "TransientApiError",
    "TransportError",
    "UnsupportedClientError",
    "api_status_error",
    "is_transient",
]

PERMANENT_STATUSES = frozenset({401, 403, 410, 426})
_BODY_LIMIT = 500
_CLIENT_VERSION_ENV = "ARKOR_TEMPORAL_CLIENT_VERSION"

# The fix is the same for both codes: new credentials, and state that names their workspace.
_NEW_CREDENTIALS = (
    "Sign in with `arkor login --oauth` (an account that works on several machines), "
    "or mint new anonymous credentials on this machine with `arkor login --anonymous` "
    "(or set ARKOR_TEMPORAL_TOKEN); then delete .arkor/state.json, which still names the "
    "old workspace, or set ARKOR_TEMPORAL_ORG and ARKOR_TEMPORAL_PROJECT."
)
_ANONYMOUS_DEAD_ENDS = {
    "anonymous_token_single_device": (
        "The anonymous credentials were rejected as single-device "
        "(anonymous_token_single_device): an anonymous account works on one machine only, "
        "and another machine has taken it over."
    ),
    "anonymous_account_not_found": (
        "The anonymous account behind these credentials no longer exists "
        "(anonymous_account_not_found)."
    ),
}


class ArkorError(Exception):
    """Base class of every error raised by `arkor_cloud`."""


class TransportError(ArkorError):
    """The request failed before a complete response arrived (network, timeout, body read).

    Always transient. The underlying httpx exception, if any, is the `__cause__`.
    """


class ResponseDecodeError(ArkorError):
    """A 2xx response whose body is not the JSON the protocol promises. Transient."""


class ConfigurationError(ArkorError):
    """Credentials, scope or base URL are missing or invalid. Fix the configuration."""


class StreamGaveUpError(ArkorError):
    """The event follower exhausted its reconnect budget; `__cause__` is the last failure."""

    def __init__(self, failures: int) -> None:
        super().__init__(f"Arkor SSE stream failed {failures} consecutive times; giving up.")
        self.failures = failures


class JobLostError(ArkorError):
    """The backend has answered 404 for the job for too long: it no longer knows it."""

    def __init__(self, job_id: str, seconds: float) -> None:
        super().__init__(
            f"the backend has answered 404 for job {job_id} for {seconds:.0f} s: "
            "it no longer knows the job (restarted without its data, or the job was deleted)"
        )
        self.job_id = job_id
        self.seconds = seconds


class ApiStatusError(ArkorError):
    """The cloud API answered with a non-2xx status."""

    is_permanent = False

    def __init__(self, *, status: int, message: str, body: str, method: str, path: str) -> None:
        super().__init__(f"{message} ({method} {path} -> {status})")
        self.status = status
        self.message = message
        self.body = body[:_BODY_LIMIT]
        self.method = method
        self.path = path


class PermanentApiError(ApiStatusError):
    """401, 403, 410 or 426: retrying cannot help."""

    is_permanent = True


class TransientApiError(ApiStatusError):
    """Any status that is not permanent (404, 408, 429, 5xx, other 4xx)."""


class UnsupportedClientError(PermanentApiError):
    """426: the cloud API refuses the `X-Arkor-Client` revision we send."""


class AnonymousCredentialsRejected(PermanentApiError):
    """The anonymous credentials are dead for good (`code` says why); only new ones help."""

    def __init__(self, *, code: str, status: int, body: str, method: str, path: str) -> None:
        message = f"{_ANONYMOUS_DEAD_ENDS[code]} {_NEW_CREDENTIALS}"
        super().__init__(status=status, message=message, body=body, method=method, path=path)
        self.code = code


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the operation that raised `exc` may succeed."""
    if isinstance(exc, ApiStatusError):
        return not exc.is_permanent
    return isinstance(exc, TransportError | ResponseDecodeError)


def api_status_error(
    *, status: int, body: str, method: str, path: str, client_version: str
) -> ApiStatusError:
    """Build the classified error for a non-2xx response (message rules: docs/protocol.md §1.2)."""
    parsed = _parse_json(body)
    if status == 426:
        return UnsupportedClientError(
            status=status,
            message=_upgrade_hint(parsed, client_version),
            body=body,
            method=method,
            path=path,
        )
    code = parsed.get("code") if isinstance(parsed, dict) else None
    if code in _ANONYMOUS_DEAD_ENDS:
        # The code decides, whatever the status (PR #100 sends it with 401).
        return AnonymousCredentialsRejected(
            code=code, status=status, body=body, method=method, path=path
        )
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = next(
        m for m in (error if isinstance(error, str) else "", body, f"cloud-api {status}") if m
    )
    cls = PermanentApiError if status in PERMANENT_STATUSES else TransientApiError
    return cls(status=status, message=message, body=body, method=method, path=path)


def _parse_json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _upgrade_hint(parsed: Any, client_version: str) -> str:
    fix = (
        "Upgrade arkor-temporal, or set "
        f"{_CLIENT_VERSION_ENV} to a supported SDK revision "
        "(sent as `X-Arkor-Client: arkor/<semver>`)."
    )
    if not isinstance(parsed, dict):
        return f"Arkor cloud API no longer supports client revision arkor/{client_version}. {fix}"
    reason = parsed.get("reason")
    current = parsed.get("currentVersion", client_version)
    supported = parsed.get("supportedRange", "unknown")
    if reason in ("missing", "malformed"):
        what = (
            f"The X-Arkor-Client header was {reason} "
            f"(we sent arkor/{client_version}; currentVersion {current}, "
            f"supportedRange {supported}, reason {reason})."
        )
    else:
        what = (
            f"Arkor SDK revision {current} is no longer supported by the cloud API "
            f"(supportedRange {supported})."
        )
    return f"{what} {fix}"
