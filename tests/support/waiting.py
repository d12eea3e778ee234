"""Waiting for what happens eventually, and failing loudly when it does not.

Every poll in the tests goes through :func:`eventually` (or, in synchronous
tests, :func:`eventually_blocking`). When time runs out they raise an
``AssertionError`` that names what was awaited and the last answer (or error)
the probe gave, instead of returning whatever was seen last or a bare
``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
MAX_SHOWN = 2000  # characters of the last answer in a failure message


def _truthy(value: object) -> bool:
    return bool(value)


class _LastSeen:
    """What the probe answered last, kept for the failure message."""

    def __init__(self) -> None:
        self.text = "nothing (the probe never answered)"

    def value(self, value: object) -> None:
        self.text = repr(value)

    def error(self, error: Exception) -> None:
        self.text = f"{type(error).__name__}: {error}"

    def failure(self, within: float, what: str) -> AssertionError:
        shown = self.text if len(self.text) <= MAX_SHOWN else self.text[:MAX_SHOWN] + " ..."
        return AssertionError(f"timed out after {within} s waiting for {what}; last seen: {shown}")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], object] = _truthy,
    *,
    within: float,
    what: str,
    interval: float = 0.05,
    retrying: tuple[type[Exception], ...] = (),
) -> T:
    """Await ``probe`` until ``accept`` takes its answer (by default: a truthy one); return it.

    An error of a ``retrying`` type counts as one more answer that is not yet right; any
    other error, an ``AssertionError`` from the probe included, ends the wait at once.
    ``within`` bounds the whole wait, a probe that hangs included.
    """
    seen = _LastSeen()
    try:
        async with asyncio.timeout(within) as deadline:
            while True:
                try:
                    value = await probe()
                except retrying as error:
                    seen.error(error)
                else:
                    seen.value(value)
                    if accept(value):
                        return value
                await asyncio.sleep(interval)
    except TimeoutError:
        if not deadline.expired():
            raise  # the probe's own TimeoutError
        raise seen.failure(within, what) from None


def eventually_blocking(
    probe: Callable[[], T],
    accept: Callable[[T], object] = _truthy,
    *,
    within: float,
    what: str,
    interval: float = 0.02,
    retrying: tuple[type[Exception], ...] = (),
) -> T:
    """:func:`eventually` for synchronous tests; a probe that hangs is not cut short."""
    seen = _LastSeen()
    deadline = time.monotonic() + within
    while True:
        try:
            value = probe()
        except retrying as error:
            seen.error(error)
        else:
            seen.value(value)
            if accept(value):
                return value
        if time.monotonic() > deadline:
            raise seen.failure(within, what)
        time.sleep(interval)
