"""The ``arkor-temporal`` command.

Exit codes: 0 success (a run that completed), 1 a run that failed, 2 bad input
(spec, arguments), 3 a run cancelled or stopped, 4 a service that cannot be
reached (Temporal or the Arkor API).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from arkor_temporal.connection import TemporalSettings, TemporalUnavailableError
from arkor_temporal.devstack import DevStack, DevStackError
from arkor_temporal.namespace_setup import SearchAttributeConflictError, register_search_attributes
from arkor_temporal.process import hard_exit
from arkor_temporal.runs import exit_code, start_run, wait_for_result
from arkor_temporal.spec import SpecError, load_spec
from arkor_temporal.watch import result_table, watch_run

T = TypeVar("T")
EXIT_BAD_INPUT, EXIT_UNREACHABLE = 2, 4
console = Console(stderr=False)
errors = Console(stderr=True)


def main() -> None:
    """Console entry point."""
    try:
        cli.main()
    except SystemExit as exc:
        hard_exit(exc.code)


def _run(coro: Awaitable[T]) -> T:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except SpecError as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_BAD_INPUT)
    except (TemporalUnavailableError, DevStackError) as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_UNREACHABLE)


def temporal_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The connection flags every command that talks to Temporal takes."""
    func = click.option("--task-queue", help="Task queue [env ARKOR_TEMPORAL_TASK_QUEUE].")(func)
    func = click.option("--namespace", help="Temporal namespace [env TEMPORAL_NAMESPACE].")(func)
    func = click.option("--address", help="Temporal host:port [env TEMPORAL_ADDRESS].")(func)
    return func


def _settings(
    address: str | None, namespace: str | None, task_queue: str | None
) -> TemporalSettings:
    return TemporalSettings.resolve(address=address, namespace=namespace, task_queue=task_queue)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Durable Arkor fine-tuning runs on Temporal."""


@cli.command()
@temporal_options
def setup(address: str | None, namespace: str | None, task_queue: str | None) -> None:
    """Register the search attributes the workflows use (safe to run again)."""

    async def go() -> list[str]:
        client = await _settings(address, namespace, task_queue).connect()
        return await register_search_attributes(client)

    try:
        added = _run(go())
    except SearchAttributeConflictError as exc:
        errors.print(f"[red]error:[/] {exc}")
        sys.exit(EXIT_BAD_INPUT)
    console.print(
        f"search attributes added: {', '.join(added)}"
        if added
        else "search attributes already registered"
    )


# -- runs ---------------------------------------------------------------------


@cli.group()
def run() -> None:
    """Start and follow training runs."""


@run.command("start")
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a spec field, e.g. maxSteps=200.",
)
@click.option("--id", "workflow_id", help="Workflow id (default: train-<name>-<timestamp>).")
@click.option(
    "--wait", is_flag=True, help="Wait for the result; exit non-zero unless it completed."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@temporal_options
def run_start(
    spec_path: Path,
    overrides: tuple[str, ...],
    workflow_id: str | None,
    wait: bool,
    as_json: bool,
    address: str | None,
    namespace: str | None,
    task_queue: str | None,
) -> None:
    """Start a training run from a YAML or JSON SPEC and print its workflow id."""
    settings = _settings(address, namespace, task_queue)

    async def go() -> int:
        spec = load_spec(spec_path, list(overrides))  # validated before anything starts
        client = await settings.connect()
        handle = await start_run(
            client, spec, task_queue=settings.task_queue, workflow_id=workflow_id
        )
        if not wait:
            _emit(as_json, {"workflowId": handle.id, "runId": handle.result_run_id}, handle.id)
            return 0
        errors.print(f"started {handle.id}", highlight=False)
        result = await wait_for_result(handle)
        if as_json:
            console.print_json(result.model_dump_json())
        else:
            console.print(result_table(result))
        return exit_code(result)

    sys.exit(_run(go()))


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(text)


# -- local stack --------------------------------------------------------------


@cli.group()
def dev() -> None:
    """The local stack: Temporal dev server (UI on :8233), emulator and worker."""


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--steps-per-second", default=5.0, show_default=True, help="Emulator simulation speed."
    )(func)
    return func


@dev.command("up")
@stack_options
def dev_up(steps_per_second: float) -> None:
    """Start the local stack in the background (reuses what is running)."""
    stack = DevStack(steps_per_second=steps_per_second)
    try:
        started = stack.up()
    except DevStackError as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_UNREACHABLE)
    console.print(
        f"started: {', '.join(started) or 'nothing (already up)'}; Temporal UI {stack.ui_url}"
    )


@dev.command("down")
def dev_down() -> None:
    """Stop the local stack."""
    stopped = DevStack().down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@dev.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def dev_status(as_json: bool) -> None:
    """Show which parts of the local stack run."""
    running = DevStack().status()
    _emit(
        as_json,
        running,
        "\n".join(f"{name}: pid {pid}" for name, pid in running.items()) or "not running",
    )


@dev.command("run")
@click.argument(
    "spec_path",
    metavar="SPEC",
    type=click.Path(path_type=Path),
    default=Path("examples/quickstart.yaml"),
)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec field."
)
@click.option(
    "--keep-up", is_flag=True, help="Leave the stack running afterwards (stop it with `dev down`)."
)
@stack_options
def dev_run(
    spec_path: Path, overrides: tuple[str, ...], keep_up: bool, steps_per_second: float
) -> None:
    """The main job: start the stack, run SPEC end to end with live progress, shut down."""
    spec = load_spec_or_exit(spec_path, overrides)
    stack = DevStack(steps_per_second=steps_per_second)
    try:
        started = stack.up()
        console.print(f"local stack ready (started: {', '.join(started) or 'none, reused'})")
        code = _run(_run_and_watch(stack, spec))
    except DevStackError as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        code = EXIT_UNREACHABLE
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


def load_spec_or_exit(path: Path, overrides: tuple[str, ...]) -> Any:
    try:
        return load_spec(path, list(overrides))
    except SpecError as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_BAD_INPUT)


async def _run_and_watch(stack: DevStack, spec: Any) -> int:
    settings = TemporalSettings.resolve(
        address=stack.temporal_address, namespace="default", task_queue=stack.task_queue
    )
    client = await settings.connect()
    handle = await start_run(client, spec, task_queue=settings.task_queue)
    console.print(f"workflow [bold]{handle.id}[/]")
    console.print(
        f"Temporal UI: {stack.ui_url}/namespaces/default/workflows/{handle.id}", soft_wrap=True
    )
    result = await watch_run(handle, console)
    console.print(result_table(result))
    return exit_code(result)


# -- components ---------------------------------------------------------------


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker (same as `python worker.py`; see its --help)."""
    import worker as worker_module

    worker_module.main(ctx.args)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def emulator(ctx: click.Context) -> None:
    """Run the Arkor emulator (same as `python -m emulator`; see its --help)."""
    from emulator.__main__ import main as emulator_main

    emulator_main(ctx.args)
