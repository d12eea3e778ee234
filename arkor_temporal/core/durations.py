"""Durations and instants: parsing what flags take (``30m``, ``1h30m``, ISO 8601), and the
one way a span is shown (``1:02:03``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h30m``, ``1d``, ``2w``; raises ValueError with an example."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; use a number and a unit, e.g. 30m, 1h, 1d")
    total = sum((timedelta(**{_UNITS[unit]: float(n)}) for n, unit in parts), timedelta())
    if total <= timedelta(0):
        raise ValueError(f"{text!r}: a duration must be positive")
    return total


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date or date-time; a naive value is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-11-29 or 2026-11-29T02:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A look-back such as ``2h`` (before ``now``) or an ISO 8601 instant."""
    try:
        return (now or datetime.now(UTC)) - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_instant(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (2h, 1d) nor an ISO 8601 time (2026-11-29T02:00Z)"
        ) from None


def clock(seconds: float) -> str:
    """A span as ``h:mm:ss`` (``0:00:21``, ``26:03:00``): the way every view shows one."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
