"""``arkor-temporal worker`` and ``arkor-temporal emulator``: the separate programs, by name.

Each command replaces this process with ``python -m <module>`` rather than
importing it: the CLI stays free of the worker's and the emulator's imports, and
signals (SIGTERM from a supervisor, Ctrl+C) reach the program itself, so the
worker's graceful hand-over works exactly as under ``python -m``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from arkor_temporal.cli.extras import require_local_extra

PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


def exec_module(module: str, args: Sequence[str]) -> NoReturn:
    """Become ``python -m module *args`` (same interpreter, environment and directory)."""
    sys.stdout.flush()  # what Python still buffers would be lost with this process image
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


@click.command(context_settings=PASS_THROUGH)
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker (same as `python worker.py`; see its --help)."""
    exec_module("arkor_temporal.worker", ctx.args)


@click.command(context_settings=PASS_THROUGH)
@click.pass_context
def emulator(ctx: click.Context) -> None:
    """Run the Arkor emulator (same as `python -m arkor_temporal.emulator`; see its --help)."""
    require_local_extra("emulator")
    exec_module("arkor_temporal.emulator", ctx.args)
