"""Ending a process that used the Temporal SDK."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it


def hard_exit(code: object, status: int | None = None) -> NoReturn:
    """Exit without interpreter teardown, after flushing output.

    The Temporal SDK's native runtime can abort the process while the interpreter
    shuts down (sdk-python#300, PyGILState_Release), after the work is done.
    ``code`` is a ``SystemExit`` code: an int, None, or a message for stderr (which
    exits 1 unless ``status`` says otherwise).
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    if status is None:
        status = code if isinstance(code, int) else (0 if code is None else 1)
    os._exit(status)
