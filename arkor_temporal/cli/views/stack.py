"""The view of the local stack: which of its processes run."""

from __future__ import annotations

from collections.abc import Mapping


def stack_status_text(running: Mapping[str, int]) -> str:
    """One ``name: pid`` line per running component, or ``not running``."""
    return "\n".join(f"{name}: pid {pid}" for name, pid in running.items()) or "not running"
