"""Stable hashing (Python's ``hash()`` is salted per process, so never used here)."""

from __future__ import annotations

import hashlib


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).digest()


def stable_id(prefix: str, *parts: object) -> str:
    return prefix + _digest(*parts).hex()[:12]


def job_seed(seed: int, job_id: str) -> int:
    """Per-job RNG seed: the server seed combined with something unique to the job."""
    return int.from_bytes(_digest(seed, job_id)[:8], "big")


def unit_hash(*parts: object) -> float:
    """Stable value in [0, 1) for the given parts."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64
