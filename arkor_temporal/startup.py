"""The worker's start-up checks: wait out a blip, refuse what waiting cannot fix.

A worker restarted during a rolling deploy or a backend hiccup must not exit on
one 503 or one refused connection: transient failures (network errors, 5xx,
429) of the Arkor API and of Temporal are retried with backoff for up to
``ARKOR_TEMPORAL_STARTUP_WAIT`` seconds. What retrying cannot fix ends the
process at once with its own exit code and the fix (README, "Worker exit codes").
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from arkor_cloud import (
    ApiStatusError,
    ArkorClient,
    ArkorError,
    ClientSettings,
    TransientApiError,
    TransportError,
)

log = logging.getLogger("arkor_temporal.worker")
T = TypeVar("T")

ENV_STARTUP_WAIT = "ARKOR_TEMPORAL_STARTUP_WAIT"
DEFAULT_STARTUP_WAIT = 120.0
EXIT_MISCONFIGURED = 2  # a setting is wrong: the message names it
EXIT_UNREACHABLE = 4  # Temporal or the Arkor API did not answer within the start-up wait
EXIT_CREDENTIALS_REFUSED = 5  # the Arkor API answered 401 or 403


class StartupError(SystemExit):
    """The worker cannot start; ``code`` is its exit code, the message says what to do."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"arkor-temporal worker: {message}")
        self.exit_code = code


def startup_wait(env: Mapping[str, str] | None = None) -> float:
    raw = (os.environ if env is None else env).get(ENV_STARTUP_WAIT) or None
    if raw is None:
        return DEFAULT_STARTUP_WAIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise StartupError(
            EXIT_MISCONFIGURED,
            f"{ENV_STARTUP_WAIT}={raw!r} is not a number of seconds: give one (0 to not "
            f"wait at all), or leave it unset for {DEFAULT_STARTUP_WAIT:g}.",
        )
    return seconds


async def retry_transient(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    wait: float,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
) -> T:
    """``attempt()`` until it succeeds, retrying failures ``transient`` accepts for ``wait`` s.

    The last failure is re-raised once the wait is spent (or at once if it is not transient).
    """
    deadline = time.monotonic() + wait
    delay = first_delay
    while True:
        try:
            return await attempt()
        except Exception as exc:
            left = deadline - time.monotonic()
            if not transient(exc) or left <= 0:
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, exc, min(delay, left))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, max_delay)


def _is_transient_api_error(exc: BaseException) -> bool:
    return isinstance(exc, TransportError | TransientApiError)


async def check_cloud(settings: ClientSettings, *, wait: float) -> None:
    """Wait until the Arkor API answers an authenticated call; raise :class:`StartupError`."""
    url = settings.base_url

    async def list_jobs() -> None:
        async with ArkorClient(settings) as cloud:
            await cloud.list_jobs()

    try:
        await retry_transient(
            f"the Arkor API at {url}", list_jobs, transient=_is_transient_api_error, wait=wait
        )
    except TransportError as exc:
        hint = (
            "start the local emulator (`arkor-temporal dev up` or `arkor-temporal emulator`)"
            if _is_loopback(url)
            else "check ARKOR_TEMPORAL_API_URL and this machine's network route to it"
        )
        raise StartupError(
            EXIT_UNREACHABLE,
            f"the Arkor API at {url} could not be reached for {wait:g} s ({exc}): {hint}.",
        ) from None
    except TransientApiError as exc:
        raise StartupError(
            EXIT_UNREACHABLE,
            f"the Arkor API at {url} kept answering {exc.status} for {wait:g} s ({exc}); "
            f"it is up but unwell: retry later, or raise {ENV_STARTUP_WAIT} to wait longer.",
        ) from None
    except ApiStatusError as exc:
        if exc.status in (401, 403):
            raise StartupError(
                EXIT_CREDENTIALS_REFUSED,
                f"the Arkor API at {url} refused this worker's credentials ({exc.status}: "
                f"{exc}). Set ARKOR_TEMPORAL_TOKEN (with ARKOR_TEMPORAL_ORG and "
                "ARKOR_TEMPORAL_PROJECT) to a valid token, or run `arkor login` on this machine.",
            ) from None
        raise StartupError(
            EXIT_MISCONFIGURED,
            f"the Arkor API at {url} answered {exc.status} to GET /v1/jobs ({exc}): "
            "ARKOR_TEMPORAL_API_URL, ARKOR_TEMPORAL_ORG or ARKOR_TEMPORAL_PROJECT is likely "
            "wrong.",
        ) from None
    except ArkorError as exc:
        raise StartupError(EXIT_MISCONFIGURED, f"the Arkor API at {url}: {exc}") from None


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
