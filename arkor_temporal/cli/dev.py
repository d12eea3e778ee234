"""``arkor-temporal dev``: the local stack (Temporal dev server, emulator, worker), a demo run.

Exit codes: 0 done (``dev run``: the run's own code, 0/1/3 as for ``run start
--wait``), 2 bad input (a flag a running stack cannot take, a busy port, a bad
spec, a missing extra), 3 ``dev status``: nothing runs, 4 a part did not start
(``dev status``: a part is down or does not answer), 130 ``dev run`` interrupted.
"""

from __future__ import annotations

import functools
import shlex
import signal
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from arkor_temporal.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_UNREACHABLE,
    console,
    emit,
    errors,
    fail,
    json_option,
    print_error,
    run_async,
)
from arkor_temporal.cli.extras import require_local_extra
from arkor_temporal.cli.inputs import load_spec_or_exit, overrides_option
from arkor_temporal.cli.runs import reattach_hint, report_result
from arkor_temporal.cli.views.stack import stack_status_text
from arkor_temporal.client.connection import ConnectionSettingsError, TemporalSettings
from arkor_temporal.client.runs import start_run
from arkor_temporal.core.spec import RunSpec
from arkor_temporal.dev.local import DevStackError
from arkor_temporal.dev.specs import quickstart_spec
from arkor_temporal.dev.stack import (
    COMPONENTS,
    SETTING_FLAGS,
    DevStack,
    PortInUseError,
    StackSettingsError,
)
from arkor_temporal.process import EXIT_INTERRUPTED

EXIT_NOT_RUNNING = 3  # `dev status`: no part of the stack runs


@click.group()
def dev() -> None:
    """The local stack: Temporal dev server (UI on :8233), emulator and worker.

    State lives in .arkor-temporal/dev under the current directory. A running
    stack keeps its ports and speed: a flag asking for others is refused (exit
    2); stop it with `dev down` first. Exit codes: 0 ok (`dev run`: the run's
    code), 2 bad input or a busy port, 3 `dev status`: nothing runs, 4 a part
    did not start (`dev status`: a part is down or does not answer), 130 `dev
    run` interrupted.
    """


_DEFAULTS = DevStack()
SPEED_OPTION = (
    "--steps-per-second",
    {"type": float, "default": _DEFAULTS.steps_per_second, "help": "Emulator speed."},
)
PORT_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--temporal-port", {"default": _DEFAULTS.temporal_port, "help": "Temporal frontend port."}),
    ("--ui-port", {"default": _DEFAULTS.ui_port, "help": "Temporal Web UI port."}),
    ("--emulator-port", {"default": _DEFAULTS.emulator_port, "help": "Emulator port."}),
]


def stack_options(*, starts: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The stack's ports (and, for commands that start it, its speed), as ``stack: DevStack``.

    The stack is bound to the one running in this directory: its settings, and a
    flag that asks it for another value fails with exit 2 and the fix.
    """
    options = [SPEED_OPTION, *PORT_OPTIONS] if starts else PORT_OPTIONS

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        names = [flag.removeprefix("--").replace("-", "_") for flag, _ in options]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            context = click.get_current_context()
            given = {
                name
                for name in names
                if context.get_parameter_source(name)
                not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)
            }
            requested = DevStack(**{name: kwargs.pop(name) for name in names})
            try:
                kwargs["stack"] = requested.bind(given, changing=starts)
            except StackSettingsError as exc:
                fail(exc, EXIT_BAD_INPUT)
            return func(*args, **kwargs)

        for flag, attributes in reversed(options):
            wrapper = click.option(flag, show_default=True, **attributes)(wrapper)
        return wrapper

    return decorate


def _start_failure_code(exc: DevStackError) -> int:
    """A busy port or a refused flag is the user's to change (2); a part that died is 4."""
    if isinstance(exc, PortInUseError | StackSettingsError):
        return EXIT_BAD_INPUT
    return EXIT_UNREACHABLE


@dev.command("up")
@stack_options(starts=True)
def dev_up(stack: DevStack) -> None:
    """Start the local stack in the background (reuses what is running)."""
    require_local_extra("dev up", temporal=True)
    try:
        started = stack.up()
    except DevStackError as exc:
        fail(exc, _start_failure_code(exc))
    except KeyboardInterrupt:  # up() has stopped what it had started
        fail("interrupted; nothing this command started is left running", EXIT_INTERRUPTED)
    console.print(
        f"started: {', '.join(started) or 'nothing (already up)'}; Temporal UI {stack.ui_url}; "
        f"emulator {stack.emulator_url} at {stack.steps_per_second:g} steps/s",
        soft_wrap=True,
    )


@dev.command("down")
@stack_options(starts=False)
def dev_down(stack: DevStack) -> None:
    """Stop the local stack."""
    stopped = stack.down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@dev.command("status")
@json_option
@stack_options(starts=False)
def dev_status(as_json: bool, stack: DevStack) -> None:
    """Show each part of the local stack, its address and whether it answers.

    Exit 0 when every part runs and answers, 3 when nothing runs, 4 when only
    some parts run or one does not answer.
    """
    status = stack.status()
    emit(as_json, status.wire(), stack_status_text(status, stack.shown_dir))
    sys.exit({"running": 0, "stopped": EXIT_NOT_RUNNING}.get(status.state, EXIT_UNREACHABLE))


@dev.command("run")
@click.argument("spec_path", metavar="[SPEC]", type=click.Path(path_type=Path), required=False)
@overrides_option()
@click.option(
    "--keep-up", is_flag=True, help="Leave the stack running afterwards (stop it with `dev down`)."
)
@stack_options(starts=True)
def dev_run(
    spec_path: Path | None, overrides: tuple[str, ...], keep_up: bool, stack: DevStack
) -> None:
    """The main job: start the stack, run SPEC end to end with live progress, shut down.

    Without SPEC it runs the built-in quickstart spec (the package's copy of
    examples/quickstart.yaml), from any directory. Only what this command
    started is shut down: a stack that was already up stays up.
    """
    require_local_extra("dev run", temporal=True)
    with quickstart_spec() if spec_path is None else nullcontext(spec_path) as path:
        spec = load_spec_or_exit(path, overrides)
    started: list[str] = []
    workflow: list[str] = []  # the run's workflow id, once it started
    interrupted = ready = False
    code = EXIT_UNREACHABLE
    try:
        started = stack.up()
        ready = True
        reused = [name for name in COMPONENTS if name not in started]
        console.print(
            f"local stack ready (started: {', '.join(started) or 'none'}"
            + (f"; already running: {', '.join(reused)}" if reused else "")
            + ")"
        )
        code = run_async(_start_and_watch(stack, spec, workflow))
    except DevStackError as exc:
        print_error(exc)
        code = _start_failure_code(exc)
    except KeyboardInterrupt:
        interrupted = True
        code = EXIT_INTERRUPTED
    finally:
        # A second Ctrl+C must not cut the shut-down short and strand half a stack.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stopped = [] if keep_up else stack.stop(started)
        if interrupted:
            _explain_interruption(stack, workflow[0] if workflow else None, stopped)
        elif ready:
            _say_what_stays_up(stack, started, stopped)
    sys.exit(code)


def _say_what_stays_up(stack: DevStack, started: list[str], stopped: list[str]) -> None:
    """After a run: what was stopped (only what this command started), and what stays up."""
    if set(stopped) == set(COMPONENTS):
        console.print("local stack stopped")
        return
    if stopped:
        console.print(f"stopped what this command started: {', '.join(stopped)}")
    kept = "" if stopped or started else " (it was up before this command)"
    console.print(
        f"stack left running{kept}: Temporal UI {stack.ui_url}; "
        "stop it with `arkor-temporal dev down`",
        soft_wrap=True,
    )


def _explain_interruption(stack: DevStack, workflow_id: str | None, stopped: list[str]) -> None:
    """What became of the run, honestly, and the commands to go on with it."""
    say = functools.partial(errors.print, highlight=False, soft_wrap=True)
    if workflow_id is None:  # up() stops what it started when it is interrupted itself
        say("interrupted before a run started; nothing this command started is left running")
        return
    hint = reattach_hint(workflow_id, _connection_flags(stack))
    if not stopped:
        say(f"interrupted: run {workflow_id} goes on on the local stack; {hint}")
        return
    if "temporal" in stopped or "emulator" in stopped:
        # Temporal's database and the emulator's jobs are kept in the state directory.
        say(
            f"interrupted: stopped {', '.join(stopped)}, so run {workflow_id} is paused, not "
            f"ended. It goes on from where it was after `{_up_command(stack)}` "
            f"in this directory; then {hint}"
        )
        return
    say(
        f"interrupted: stopped the worker, so run {workflow_id} waits on the running stack for "
        f"one; `arkor-temporal dev up` starts it again; then {hint}"
    )


def _up_command(stack: DevStack) -> str:
    """``dev up`` with the flags that bring this stack back as it was."""
    flags = "".join(
        f" {flag} {getattr(stack, key):g}"
        for key, flag in SETTING_FLAGS.items()
        if getattr(stack, key) != getattr(_DEFAULTS, key)
    )
    return f"arkor-temporal dev up{flags}"


def _connection_flags(stack: DevStack) -> str:
    """The flags a plain ``arkor-temporal run ...`` needs to find the stack's Temporal."""
    try:
        settings = TemporalSettings.resolve()
    except ConnectionSettingsError:
        settings = None
    flags = ""
    if settings is None or settings.address != stack.temporal_address:
        flags += f" --address {shlex.quote(stack.temporal_address)}"
    if settings is None or settings.namespace != "default":
        flags += " --namespace default"
    return flags


async def _start_and_watch(stack: DevStack, spec: RunSpec, workflow: list[str]) -> int:
    """Start ``spec`` on the stack, print where to see it in the UI, follow it live."""
    settings = TemporalSettings.resolve(
        address=stack.temporal_address, namespace="default", task_queue=stack.task_queue
    )
    client = await settings.connect()
    handle = await start_run(client, spec, task_queue=settings.task_queue)
    workflow.append(handle.id)
    console.print(f"workflow [bold]{handle.id}[/]")
    console.print(
        f"Temporal UI: {stack.ui_url}/namespaces/default/workflows/{handle.id}", soft_wrap=True
    )
    return await report_result(handle, live=True, as_json=False)
