"""Running a script that uses the Python API, so that it exits cleanly with its code.

A short process that used a Temporal client can abort while the interpreter tears
down (``Fatal Python error: PyGILState_Release``, sdk-python#300): the SDK's
native threads outlive the event loop. :func:`run_script` runs the script's
``main`` and ends the process without that teardown, as the CLI and the worker do.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from arkor_temporal.process import EXIT_INTERRUPTED, hard_exit
from arkor_temporal.telemetry.tracing import shutdown_tracing


def run_script(main: Callable[[], Coroutine[Any, Any, int | None]]) -> NoReturn:
    """``asyncio.run(main())``, then exit with what it returned (None is 0).

    An exception prints its traceback and exits 1, Ctrl-C exits 130, ``sys.exit(n)``
    inside ``main`` exits ``n``; buffered output and spans are flushed first.
    """
    code: object
    try:
        code = asyncio.run(main())
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BaseException:
        traceback.print_exc()
        code = 1
    shutdown_tracing()
    hard_exit(code)
