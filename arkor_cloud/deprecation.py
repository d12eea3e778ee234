"""Soft deprecation notices carried by response headers (docs/protocol.md §1.5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog

__all__ = ["DeprecationNotice", "DeprecationWatcher"]

_WARNING = re.compile(r'^\d{3}\s+-\s+"(.+)"\s*$')
_log = structlog.get_logger("arkor_cloud.deprecation")


@dataclass(frozen=True)
class DeprecationNotice:
    message: str
    sunset: str | None
    client_version: str

    @classmethod
    def from_headers(cls, headers: httpx.Headers, client_version: str) -> DeprecationNotice | None:
        """The notice a response carries, if any: only the exact value `Deprecation: true`."""
        if headers.get("Deprecation") != "true":
            return None
        warning = headers.get("Warning")
        if warning is None:
            message = f"Arkor SDK {client_version} is deprecated"
        else:
            match = _WARNING.match(warning)
            message = match.group(1) if match else warning
        return cls(message=message, sunset=headers.get("Sunset"), client_version=client_version)


class DeprecationWatcher:
    """Checks every response and surfaces each distinct notice once (log + optional handler)."""

    def __init__(
        self, client_version: str, handler: Callable[[DeprecationNotice], None] | None
    ) -> None:
        self._client_version = client_version
        self._handler = handler
        self._seen: set[DeprecationNotice] = set()

    def check(self, response: httpx.Response) -> None:
        notice = DeprecationNotice.from_headers(response.headers, self._client_version)
        if notice is None or notice in self._seen:
            return
        self._seen.add(notice)
        _log.warning(
            "arkor_cloud.deprecation",
            message=notice.message,
            sunset=notice.sunset,
            client_version=notice.client_version,
        )
        if self._handler is None:
            return
        try:
            self._handler(notice)
        except Exception:
            # A faulty handler must never fail the API call that carried the notice.
            _log.exception("arkor_cloud.deprecation_handler_failed")
