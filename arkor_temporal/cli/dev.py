"""``arkor-temporal dev``: the local stack (Temporal dev server, emulator, worker), a demo run."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from arkor_temporal.cli.app import (
    EXIT_UNREACHABLE,
    console,
    emit,
    fail,
    json_option,
    print_error,
    run_async,
)
from arkor_temporal.cli.extras import require_local_extra
from arkor_temporal.cli.inputs import load_spec_or_exit, overrides_option
from arkor_temporal.cli.runs import report_result
from arkor_temporal.cli.views.stack import stack_status_text
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.runs import start_run
from arkor_temporal.core.spec import RunSpec
from arkor_temporal.dev.local import DevStackError
from arkor_temporal.dev.specs import quickstart_spec
from arkor_temporal.dev.stack import DevStack


@click.group()
def dev() -> None:
    """The local stack: Temporal dev server (UI on :8233), emulator and worker."""


_DEFAULTS = DevStack()
STACK_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--steps-per-second", {"default": _DEFAULTS.steps_per_second, "help": "Emulator speed."}),
    ("--temporal-port", {"default": _DEFAULTS.temporal_port, "help": "Temporal frontend port."}),
    ("--ui-port", {"default": _DEFAULTS.ui_port, "help": "Temporal Web UI port."}),
    ("--emulator-port", {"default": _DEFAULTS.emulator_port, "help": "Emulator port."}),
]


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The stack's speed and ports; they arrive in the command as one ``stack: DevStack``."""
    names = [flag.removeprefix("--").replace("-", "_") for flag, _ in STACK_OPTIONS]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["stack"] = DevStack(**{name: kwargs.pop(name) for name in names})
        return func(*args, **kwargs)

    for flag, attributes in reversed(STACK_OPTIONS):
        wrapper = click.option(flag, show_default=True, **attributes)(wrapper)
    return wrapper


@dev.command("up")
@stack_options
def dev_up(stack: DevStack) -> None:
    """Start the local stack in the background (reuses what is running)."""
    require_local_extra("dev up", temporal=True)
    try:
        started = stack.up()
    except DevStackError as exc:
        fail(exc, EXIT_UNREACHABLE)
    console.print(
        f"started: {', '.join(started) or 'nothing (already up)'}; Temporal UI {stack.ui_url}"
    )


@dev.command("down")
def dev_down() -> None:
    """Stop the local stack."""
    stopped = DevStack().down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@dev.command("status")
@json_option
def dev_status(as_json: bool) -> None:
    """Show which parts of the local stack run."""
    running = DevStack().status()
    emit(as_json, running, stack_status_text(running))


@dev.command("run")
@click.argument("spec_path", metavar="[SPEC]", type=click.Path(path_type=Path), required=False)
@overrides_option()
@click.option(
    "--keep-up", is_flag=True, help="Leave the stack running afterwards (stop it with `dev down`)."
)
@stack_options
def dev_run(
    spec_path: Path | None, overrides: tuple[str, ...], keep_up: bool, stack: DevStack
) -> None:
    """The main job: start the stack, run SPEC end to end with live progress, shut down.

    Without SPEC it runs the built-in quickstart spec (the package's copy of
    examples/quickstart.yaml), from any directory.
    """
    require_local_extra("dev run", temporal=True)
    with quickstart_spec() if spec_path is None else nullcontext(spec_path) as path:
        spec = load_spec_or_exit(path, overrides)
    code = EXIT_UNREACHABLE
    try:
        started = stack.up()
        console.print(f"local stack ready (started: {', '.join(started) or 'none, reused'})")
        code = run_async(_start_and_watch(stack, spec))
    except DevStackError as exc:
        print_error(exc)
    finally:
        if keep_up:
            console.print(
                f"stack left running: Temporal UI {stack.ui_url}; "
                "stop it with `arkor-temporal dev down`"
            )
        else:
            stack.down()
            console.print("local stack stopped")
    sys.exit(code)


async def _start_and_watch(stack: DevStack, spec: RunSpec) -> int:
    """Start ``spec`` on the stack, print where to see it in the UI, follow it live."""
    settings = TemporalSettings.resolve(
        address=stack.temporal_address, namespace="default", task_queue=stack.task_queue
    )
    client = await settings.connect()
    handle = await start_run(client, spec, task_queue=settings.task_queue)
    console.print(f"workflow [bold]{handle.id}[/]")
    console.print(
        f"Temporal UI: {stack.ui_url}/namespaces/default/workflows/{handle.id}", soft_wrap=True
    )
    return await report_result(handle, live=True, as_json=False)
