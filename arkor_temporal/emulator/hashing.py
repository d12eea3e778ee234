"""Stable hashing (Python's ``hash()`` is salted per process, so never used here)."""

from __future__ import annotations

import hashlib
import string

# Characters legal in an SSE id and in a Last-Event-ID header: no whitespace, CR, LF or NUL.
ID_ALPHABET = string.ascii_letters + string.digits + "-_.:~+/"


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


def opaque_id(*parts: object) -> str:
    """A random-looking id of 6 to 24 characters, stable for the given parts."""
    digest = _digest(*parts)
    length = 6 + digest[0] % 19
    return "".join(ID_ALPHABET[byte % len(ID_ALPHABET)] for byte in digest[1 : 1 + length])
