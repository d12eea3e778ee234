"""The command's shell: the root group, exit codes, and what every command shares.

Exit codes: 0 success (a run that completed), 1 a run that failed, 2 bad input
(spec, arguments, unknown run or schedule, a refused cancel, a missing extra),
3 a run cancelled or stopped, 4 a service that cannot be reached (Temporal or
the Arkor API). Every read command takes ``--json``; JSON goes to stdout,
messages to stderr.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.markup import escape
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.client.connection import (
    ConnectionSettingsError,
    NamespaceNotFoundError,
    TemporalSettings,
    TemporalUnavailableError,
    namespace_missing,
)
from arkor_temporal.client.runs import RunAlreadyExistsError, RunNotFoundError
from arkor_temporal.client.schedules import ScheduleError, ScheduleNotFoundError
from arkor_temporal.client.setup import SearchAttributeConflictError
from arkor_temporal.codec import CodecKeyError
from arkor_temporal.core.spec import SpecError
from arkor_temporal.dev.local import DevStackError

T = TypeVar("T")
EXIT_BAD_INPUT, EXIT_UNREACHABLE = 2, 4
BAD_INPUT_ERRORS: tuple[type[Exception], ...] = (
    SpecError,
    CodecKeyError,  # a key this process lacks or cannot read
    ConnectionSettingsError,
    RunNotFoundError,
    RunAlreadyExistsError,
    ScheduleError,
    ScheduleNotFoundError,
    SearchAttributeConflictError,
)
console = Console(stderr=False)
errors = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="arkor-temporal", prog_name="arkor-temporal")
def cli() -> None:
    """Durable Arkor fine-tuning runs on Temporal.

    Exit codes: 0 completed / ok, 1 run failed, 2 bad input, 3 run cancelled or
    stopped, 4 Temporal or the Arkor API unreachable.
    """


def print_error(message: object) -> None:
    """``error: message`` on stderr; the message is escaped, so ``[local]`` stays as typed."""
    errors.print(f"[red]error:[/] {escape(str(message))}", highlight=False, soft_wrap=True)


def fail(message: object, code: int) -> NoReturn:
    """Print ``message`` as an error and exit with ``code``."""
    print_error(message)
    sys.exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; turn known errors into a message and an exit code."""
    try:
        return asyncio.run(coro)
    except BAD_INPUT_ERRORS as exc:
        fail(exc, EXIT_BAD_INPUT)
    except WorkflowUpdateFailedError as exc:
        fail(f"refused: {exc.cause}", EXIT_BAD_INPUT)
    except (TemporalUnavailableError, DevStackError) as exc:
        fail(exc, EXIT_UNREACHABLE)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            fail(f"Temporal did not answer: {exc.message}", EXIT_UNREACHABLE)
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            fail(f"Temporal refused the request: {exc.message}", EXIT_BAD_INPUT)
        raise


def connected(settings: TemporalSettings, work: Callable[[Client], Awaitable[T]]) -> T:
    """Connect with ``settings``, then run ``work`` with the client (errors as in ``run_async``)."""

    async def go() -> T:
        client = await settings.connect()
        try:
            return await work(client)
        except RPCError as exc:
            if namespace_missing(exc):  # the connection does not check it; the first call does
                raise NamespaceNotFoundError(settings.namespace, settings.address) from None
            raise

    return run_async(go())


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
CONNECTION_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--address", {"help": "Temporal host:port [env TEMPORAL_ADDRESS]."}),
    ("--namespace", {"help": "Temporal namespace [env TEMPORAL_NAMESPACE]."}),
    ("--task-queue", {"help": "Task queue [env ARKOR_TEMPORAL_TASK_QUEUE]."}),
    ("--profile", {"help": "Profile in the Temporal config file [env TEMPORAL_PROFILE]."}),
    ("--config-file", {"type": _FILE, "help": "Temporal TOML file [env TEMPORAL_CONFIG_FILE]."}),
    ("--api-key", {"help": "Temporal Cloud API key [env TEMPORAL_API_KEY]."}),
    ("--tls-cert", {"type": _FILE, "help": "mTLS cert [env TEMPORAL_TLS_CLIENT_CERT_PATH]."}),
    ("--tls-key", {"type": _FILE, "help": "mTLS key [env TEMPORAL_TLS_CLIENT_KEY_PATH]."}),
]


def temporal_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The connection flags every command that talks to Temporal takes.

    They arrive in the command as one ``settings: TemporalSettings`` argument.
    Flags beat the environment, which beats the profile file.
    """
    names = [flag.removeprefix("--").replace("-", "_") for flag, _ in CONNECTION_OPTIONS]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = {name: kwargs.pop(name) for name in names}
        try:
            kwargs["settings"] = TemporalSettings.resolve(**options)
        except ConnectionSettingsError as exc:
            fail(exc, EXIT_BAD_INPUT)
        return func(*args, **kwargs)

    for flag, attributes in reversed(CONNECTION_OPTIONS):
        wrapper = click.option(flag, **attributes)(wrapper)
    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit(
    as_json: bool,
    data: BaseModel | Sequence[BaseModel] | dict[str, Any],
    view: RenderableType,
) -> None:
    """JSON on stdout, or the human view (a string or a rich renderable)."""
    if not as_json:
        console.print(view, highlight=False, soft_wrap=isinstance(view, str))
    elif isinstance(data, BaseModel):
        click.echo(data.model_dump_json())
    elif isinstance(data, dict):
        click.echo(json.dumps(data))
    else:
        click.echo(json.dumps([item.model_dump(mode="json") for item in data]))
