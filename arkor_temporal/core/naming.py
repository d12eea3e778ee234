"""Run names templated with a run's scheduled time, such as ``nightly-{date}``.

Pure functions without I/O: the workflow renders the template once, at the
start of a scheduled run, from the schedule's ``TemporalScheduledStartTime``
search attribute (or the start time for a run started by hand).

Placeholders: ``{date}`` (``2026-11-29``), ``{time}`` (``0200``), ``{datetime}``
(``2026-11-29T0200Z``), ``{timestamp}`` (``20261129T020000Z``); all in UTC. Any
other text, including unknown ``{...}``, is kept as it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

PLACEHOLDERS = {
    "date": "%Y-%m-%d",
    "time": "%H%M",
    "datetime": "%Y-%m-%dT%H%MZ",
    "timestamp": "%Y%m%dT%H%M%SZ",
}
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def is_template(name: str) -> bool:
    return _PLACEHOLDER.search(name) is not None


def render_run_name(template: str, when: datetime) -> str:
    """``template`` with each placeholder replaced by ``when`` (converted to UTC)."""
    moment = when.astimezone(UTC)
    return _PLACEHOLDER.sub(lambda match: moment.strftime(PLACEHOLDERS[match[1]]), template)


def slug(text: str, *, limit: int = 60) -> str:
    """Lower-case letters, digits and dashes, for readable workflow ids."""
    return re.sub(r"[^a-z0-9]+", "-", _PLACEHOLDER.sub("", text).lower()).strip("-")[:limit]
