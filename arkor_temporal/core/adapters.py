"""The wire reference to a trained adapter, as inference and deployments take it."""

from __future__ import annotations

from typing import Any


def adapter_reference(job_id: str | None, step: int | None = None) -> dict[str, Any]:
    """A checkpoint's adapter when ``step`` is given, else the job's final adapter."""
    if step is None:
        return {"kind": "final", "jobId": job_id}
    return {"kind": "checkpoint", "jobId": job_id, "step": step}
