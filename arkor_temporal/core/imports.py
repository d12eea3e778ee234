"""User code named by import path (``package.module:function``): custom scorers and hooks.

A spec names user callables instead of containing code. They are resolved when
the spec is validated, so a typo is reported before anything starts, and again
on the worker that runs them. Resolution is skipped inside the workflow
sandbox: the workflow never runs user code, and importing it there would make
replay depend on what happens to be installed on the worker.

Like uvicorn, the current directory is importable even when the process was
started from a console script (``arkor-temporal run start``), so a spec next to
its hooks package works without setting ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

from temporalio import workflow

IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_FORM = "use the form package.module:function"


class ImportPathError(ValueError):
    """An import path that does not name a callable; the message says how to fix it."""


def check_import_path(path: str) -> str:
    """Validator body: the path's syntax always, its target outside the workflow sandbox."""
    if not IMPORT_PATH.match(path):
        raise ImportPathError(f"{path!r} is not an import path; {_FORM}")
    if not (workflow.unsafe.in_sandbox() or workflow.in_workflow()):
        resolve_callable(path)
    return path


@cache
def resolve_callable(path: str) -> Callable[..., Any]:
    """Import ``package.module:attr.attr`` and return the callable it names."""
    module_name, sep, attributes = path.partition(":")
    if not sep or not IMPORT_PATH.match(path):
        raise ImportPathError(f"{path!r} is not an import path; {_FORM}")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportPathError(
            f"cannot import module {module_name!r} ({exc}); install the package where the "
            "spec is validated and on the worker, or fix the path"
        ) from None
    except Exception as exc:  # the user's module itself raised while importing
        raise ImportPathError(
            f"importing module {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    for name in attributes.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise ImportPathError(
                f"{module_name!r} has no attribute {attributes!r}; check the name after ':'"
            ) from None
    if not callable(target):
        raise ImportPathError(f"{path!r} is a {type(target).__name__}, not a callable")
    function: Callable[..., Any] = target
    return function
