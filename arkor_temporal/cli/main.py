"""The ``arkor-temporal`` command.

Exit codes: 0 success (a run that completed), 1 a run that failed, 2 bad input
(spec, arguments, unknown run or schedule, a refused cancel), 3 a run cancelled
or stopped, 4 a service that cannot be reached (Temporal or the Arkor API).
Every read command takes ``--json``; JSON goes to stdout, messages to stderr.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.cli.views import result_table, runs_table, status_view, watch_run
from arkor_temporal.client import schedules
from arkor_temporal.client.connection import (
    ConnectionSettingsError,
    TemporalSettings,
    TemporalUnavailableError,
)
from arkor_temporal.client.reaper import REAPER_SCHEDULE_ID, install_reaper, reap_now
from arkor_temporal.client.runs import (
    RunFilter,
    RunHandle,
    RunNotFoundError,
    cancel_run,
    describe_run,
    exit_code,
    get_run,
    list_runs,
    start_run,
    wait_for_result,
)
from arkor_temporal.client.setup import SearchAttributeConflictError, register_search_attributes
from arkor_temporal.core.durations import parse_duration, parse_instant, parse_since
from arkor_temporal.core.models import Phase
from arkor_temporal.core.spec import RunSpec, SpecError, load_spec
from arkor_temporal.dev.stack import DevStack, DevStackError
from arkor_temporal.process import hard_exit

T = TypeVar("T")
EXIT_BAD_INPUT, EXIT_UNREACHABLE = 2, 4
BAD_INPUT_ERRORS: tuple[type[Exception], ...] = (
    SpecError,
    ConnectionSettingsError,
    RunNotFoundError,
    schedules.ScheduleError,
    schedules.ScheduleNotFoundError,
    SearchAttributeConflictError,
)
console = Console(stderr=False)
errors = Console(stderr=True)


def main() -> None:
    """Console entry point."""
    try:
        cli.main()
    except SystemExit as exc:
        hard_exit(exc.code)


def _fail(message: object, code: int) -> NoReturn:
    errors.print(f"[red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(code)


def _run(coro: Awaitable[T]) -> T:
    """Run a command's coroutine; turn known errors into a message and an exit code."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except BAD_INPUT_ERRORS as exc:
        _fail(exc, EXIT_BAD_INPUT)
    except WorkflowUpdateFailedError as exc:
        _fail(f"refused: {exc.cause}", EXIT_BAD_INPUT)
    except (TemporalUnavailableError, DevStackError) as exc:
        _fail(exc, EXIT_UNREACHABLE)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            _fail(f"Temporal did not answer: {exc.message}", EXIT_UNREACHABLE)
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            _fail(f"Temporal refused the request: {exc.message}", EXIT_BAD_INPUT)
        raise


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
            _fail(exc, EXIT_BAD_INPUT)
        return func(*args, **kwargs)

    for flag, attributes in reversed(CONNECTION_OPTIONS):
        wrapper = click.option(flag, **attributes)(wrapper)
    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _emit(as_json: bool, data: BaseModel | Sequence[BaseModel] | dict[str, Any], view: Any) -> None:
    """JSON on stdout, or the human view (a string or a rich renderable)."""
    if not as_json:
        console.print(view, highlight=False, soft_wrap=isinstance(view, str))
    elif isinstance(data, BaseModel):
        click.echo(data.model_dump_json())
    elif isinstance(data, dict):
        click.echo(json.dumps(data))
    else:
        click.echo(json.dumps([item.model_dump(mode="json") for item in data]))


def _connected(settings: TemporalSettings, work: Callable[[Client], Awaitable[T]]) -> T:
    async def go() -> T:
        return await work(await settings.connect())

    return _run(go())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Durable Arkor fine-tuning runs on Temporal.

    Exit codes: 0 completed / ok, 1 run failed, 2 bad input, 3 run cancelled or
    stopped, 4 Temporal or the Arkor API unreachable.
    """


@cli.command()
@temporal_options
def setup(settings: TemporalSettings) -> None:
    """Register the search attributes the workflows use (safe to run again)."""
    added = _connected(settings, register_search_attributes)
    console.print(
        f"search attributes added: {', '.join(added)}"
        if added
        else "search attributes already registered"
    )


# -- runs ---------------------------------------------------------------------


@cli.group()
def run() -> None:
    """Start, follow, list and cancel training runs."""


run_id_argument = click.argument("workflow_id", metavar="ID")


async def _report(handle: RunHandle, *, live: bool, as_json: bool) -> int:
    """Wait for the run (live view on the terminal, or not) and print its result."""
    if live:
        result = await watch_run(handle, errors if as_json else console)
    else:
        result = await wait_for_result(handle)
    _emit(as_json, result, result_table(result))
    return exit_code(result)


@run.command("start")
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a spec field, e.g. maxSteps=200 (repeatable).",
)
@click.option("--id", "workflow_id", help="Workflow id (default: train-<name>-<timestamp>).")
@click.option(
    "--wait", is_flag=True, help="Wait for the result; exit non-zero unless it completed."
)
@click.option("--watch", is_flag=True, help="Like --wait, with the live view of `run watch`.")
@json_option
@temporal_options
def run_start(
    spec_path: Path,
    overrides: tuple[str, ...],
    workflow_id: str | None,
    wait: bool,
    watch: bool,
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """Start a training run from a YAML or JSON SPEC and print its workflow id."""
    if wait and watch:
        _fail("give --wait or --watch, not both", EXIT_BAD_INPUT)

    async def go(client: Client) -> int:
        handle = await start_run(
            client, spec, task_queue=settings.task_queue, workflow_id=workflow_id
        )
        if not (wait or watch):
            _emit(as_json, {"workflow_id": handle.id, "run_id": handle.result_run_id}, handle.id)
            return 0
        errors.print(f"started {handle.id}", highlight=False)
        return await _report(handle, live=watch, as_json=as_json)

    spec = load_spec_or_exit(spec_path, overrides)  # validated before anything starts
    sys.exit(_connected(settings, go))


@run.command("status")
@run_id_argument
@json_option
@temporal_options
def run_status(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """Show a run: summary, search attributes, live details (or its result once ended)."""

    async def go(client: Client) -> None:
        info = await describe_run(get_run(client, workflow_id))
        _emit(as_json, info, status_view(info))

    _connected(settings, go)


@run.command("watch")
@run_id_argument
@json_option
@temporal_options
def run_watch(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """Follow a run live until it ends; the exit code tells how it ended.

    Progress over steps, loss and eval-loss sparklines, checkpoints as they land,
    then the result (with the stop or cancel reason). With --json the live view
    goes to stderr and the result JSON to stdout.
    """

    async def go(client: Client) -> int:
        handle = get_run(client, workflow_id)
        await describe_run(handle)  # an unknown id fails here, clearly
        return await _report(handle, live=True, as_json=as_json)

    sys.exit(_connected(settings, go))


@run.command("result")
@run_id_argument
@json_option
@temporal_options
def run_result(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """Print a run's result, waiting for it to end; the exit code tells how it ended."""

    async def go(client: Client) -> int:
        handle = get_run(client, workflow_id)
        await describe_run(handle)
        return await _report(handle, live=False, as_json=as_json)

    sys.exit(_connected(settings, go))


def _parse(flag: str, parse: Callable[[str], T], text: str | None) -> T | None:
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        _fail(f"{flag}: {exc}", EXIT_BAD_INPUT)


@run.command("list")
@click.option(
    "--phase", type=click.Choice([p.value for p in Phase]), help="Only runs in this phase."
)
@click.option("--model", help="Only runs of this base model.")
@click.option("--name", help="Run name; a trailing * matches a prefix (nightly-*).")
@click.option("--since", help="Started within a duration (2h, 1d) or after an ISO time.")
@click.option(
    "--running/--closed", "running", default=None, help="Only open, or only closed, runs."
)
@click.option("--query", "extra", help="An extra Temporal List Filter, ANDed.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
@temporal_options
def run_list(
    phase: str | None,
    model: str | None,
    name: str | None,
    since: str | None,
    running: bool | None,
    extra: str | None,
    limit: int,
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """List runs, newest first, filtered through their search attributes."""
    run_filter = RunFilter(
        phase=phase,
        model=model,
        name=name,
        since=_parse("--since", parse_since, since),
        running=running,
        extra=extra,
    )

    async def go(client: Client) -> None:
        rows = await list_runs(client, run_filter, limit=limit)
        _emit(as_json, rows, runs_table(rows) if rows else "no runs match")

    _connected(settings, go)


def _default_requester() -> str:
    try:
        return f"{getpass.getuser()} (arkor-temporal cli)"
    except (KeyError, OSError):
        return "arkor-temporal cli"


@run.command("cancel")
@run_id_argument
@click.option("--reason", required=True, help="Why: recorded in the run's result and the UI.")
@click.option("--by", "requested_by", help="Who asks (default: your user name).")
@click.option(
    "--signal",
    "use_signal",
    is_flag=True,
    help="Send the request_cancel signal instead of the cancel update (no acknowledgement).",
)
@json_option
@temporal_options
def run_cancel(
    workflow_id: str,
    reason: str,
    requested_by: str | None,
    use_signal: bool,
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """Cancel a run; the backend job is cancelled before the answer comes back."""

    async def go(client: Client) -> None:
        ack = await cancel_run(
            get_run(client, workflow_id),
            reason,
            requested_by or _default_requester(),
            use_signal=use_signal,
        )
        if ack is None:
            _emit(as_json, {"workflow_id": workflow_id, "outcome": "signalled"}, "cancel signalled")
        else:
            _emit(as_json, ack, f"{ack.outcome} (run {ack.run_status}, job {ack.job_id or '-'})")

    _connected(settings, go)


# -- schedules ----------------------------------------------------------------


@cli.group()
def schedule() -> None:
    """Scheduled retraining: Temporal Schedules that start ordinary training runs.

    A run name may carry {date}, {time}, {datetime} or {timestamp}; each run
    renders it with its scheduled time (UTC), e.g. `name: nightly-{date}`.
    """


schedule_name = click.argument("name", metavar="NAME")
overlap_choice = click.Choice(list(schedules.OVERLAP_POLICIES))


@schedule.command("create")
@schedule_name
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option("--cron", help="Cron expression, e.g. '0 2 * * *' (or @daily).")
@click.option("--every", help="Fixed interval, e.g. 30m, 6h, 1d.")
@click.option("--timezone", help="Time zone for --cron, e.g. Europe/Paris (default UTC).")
@click.option(
    "--overlap",
    type=overlap_choice,
    default="skip",
    show_default=True,
    help="What to do when a run is due while the previous one still runs.",
)
@click.option("--pause-on-failure", is_flag=True, help="Pause the schedule after a failed run.")
@click.option("--jitter", help="Random delay up to this duration for each run, e.g. 5m.")
@click.option("--paused", is_flag=True, help="Create it paused.")
@click.option("--note", help="A note shown with the schedule's state.")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec field."
)
@json_option
@temporal_options
def schedule_create(
    name: str,
    spec_path: Path,
    cron: str | None,
    every: str | None,
    timezone: str | None,
    overlap: str,
    pause_on_failure: bool,
    jitter: str | None,
    paused: bool,
    note: str | None,
    overrides: tuple[str, ...],
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """Create schedule NAME that runs SPEC with --cron or --every."""
    try:
        schedules.validate_name(name)
        timing = schedules.Timing.parse(cron=cron, every=every, timezone=timezone, jitter=jitter)
    except schedules.ScheduleError as exc:
        _fail(exc, EXIT_BAD_INPUT)
    spec = load_spec_or_exit(spec_path, overrides)
    built = schedules.build_schedule(
        spec,
        name=name,
        task_queue=settings.task_queue,
        timing=timing,
        overlap=overlap,
        pause_on_failure=pause_on_failure,
        paused=paused,
        note=note,
    )

    async def go(client: Client) -> schedules.ScheduleView:
        await schedules.create_schedule(client, name, built, timing)
        return await schedules.describe_schedule(client, name)

    view = _connected(settings, go)
    _emit(as_json, view, f"created schedule {name}: {view.timing}; next {_times(view)}")


def _times(view: schedules.ScheduleRow, count: int = 3) -> str:
    upcoming = view.next_action_times[:count]
    return ", ".join(f"{t:%Y-%m-%d %H:%M:%S}Z" for t in upcoming) or "none"


@schedule.command("list")
@json_option
@temporal_options
def schedule_list(as_json: bool, settings: TemporalSettings) -> None:
    """List the training-run schedules."""
    rows = _connected(settings, schedules.list_schedules)
    table = Table("name", "when", "state", "next runs", "last run")
    for row in rows:
        last = row.recent_actions[-1].workflow_id if row.recent_actions else "-"
        state = f"paused ({row.note})" if row.paused else "active"
        table.add_row(row.name, row.timing, state, _times(row, 2), last)
    _emit(as_json, rows, table if rows else "no schedules")


@schedule.command("describe")
@schedule_name
@json_option
@temporal_options
def schedule_describe(name: str, as_json: bool, settings: TemporalSettings) -> None:
    """Show a schedule: timing, state and note, the run it starts, next and recent runs."""
    view = _connected(settings, lambda client: schedules.describe_schedule(client, name))
    _emit(as_json, view, _schedule_table(view))


def _schedule_table(view: schedules.ScheduleView) -> RenderableType:
    table = Table(title=f"schedule {view.name}", show_header=False)
    table.add_row("when", view.timing)
    table.add_row("state", "paused" if view.paused else "active")
    table.add_row("note", view.note or "-")
    table.add_row("overlap", view.overlap + (", pause on failure" if view.pause_on_failure else ""))
    table.add_row("runs", f"{view.run_name} on {view.model} ({view.max_steps or '?'} steps)")
    table.add_row("summary", view.summary or "-")
    table.add_row("workflow ids", f"{view.workflow_id_prefix}-<scheduled time>")
    table.add_row("task queue", view.task_queue)
    table.add_row("next runs", _times(view, 5))
    table.add_row(
        "recent runs",
        "\n".join(f"{a.workflow_id} (at {a.started_at:%H:%M:%S})" for a in view.recent_actions)
        or "none",
    )
    table.add_row("running", ", ".join(view.running) or "none")
    table.add_row("taken / skipped", f"{view.actions_taken} / {view.skipped_overlap} (overlap)")
    return table


def _schedule_action(
    verb: str, action: Callable[[Client], Awaitable[Any]], settings: TemporalSettings, name: str
) -> None:
    _connected(settings, action)
    console.print(f"{verb} schedule {name}", highlight=False)


note_option = click.option("--note", help="Why: shown with the schedule's state.")


@schedule.command("pause")
@schedule_name
@note_option
@temporal_options
def schedule_pause(name: str, note: str | None, settings: TemporalSettings) -> None:
    """Pause a schedule: no run starts on its own until unpaused."""
    _schedule_action("paused", lambda c: schedules.pause_schedule(c, name, note), settings, name)


@schedule.command("unpause")
@schedule_name
@note_option
@temporal_options
def schedule_unpause(name: str, note: str | None, settings: TemporalSettings) -> None:
    """Resume a paused schedule."""
    _schedule_action(
        "unpaused", lambda c: schedules.unpause_schedule(c, name, note), settings, name
    )


@schedule.command("trigger")
@schedule_name
@click.option("--overlap", type=overlap_choice, help="Override the overlap policy for this run.")
@temporal_options
def schedule_trigger(name: str, overlap: str | None, settings: TemporalSettings) -> None:
    """Start the schedule's run now (also when paused; the overlap policy applies)."""
    _schedule_action(
        "triggered", lambda c: schedules.trigger_schedule(c, name, overlap), settings, name
    )


@schedule.command("backfill")
@schedule_name
@click.option("--from", "start", required=True, help="ISO 8601 start, e.g. 2026-11-20.")
@click.option("--to", "end", required=True, help="ISO 8601 end, e.g. 2026-11-27T00:00Z.")
@click.option(
    "--overlap",
    type=overlap_choice,
    default="buffer-all",
    show_default=True,
    help="buffer-all runs the missed runs one after another.",
)
@temporal_options
def schedule_backfill(
    name: str, start: str, end: str, overlap: str, settings: TemporalSettings
) -> None:
    """Start the runs the schedule would have started between --from and --to."""
    start_at = _parse("--from", parse_instant, start)
    end_at = _parse("--to", parse_instant, end)
    assert start_at is not None and end_at is not None
    _schedule_action(
        "backfilled",
        lambda c: schedules.backfill_schedule(c, name, start_at, end_at, overlap),
        settings,
        name,
    )


@schedule.command("delete")
@schedule_name
@temporal_options
def schedule_delete(name: str, settings: TemporalSettings) -> None:
    """Delete a schedule (runs it started go on)."""
    _schedule_action("deleted", lambda c: schedules.delete_schedule(c, name), settings, name)


# -- orphan reaper ------------------------------------------------------------


@cli.group()
def reaper() -> None:
    """Cancel backend jobs whose training-run workflow is gone (e.g. terminated)."""


@reaper.command("install")
@click.option("--every", default="10m", show_default=True, help="How often it runs.")
@temporal_options
def reaper_install(every: str, settings: TemporalSettings) -> None:
    """Create (or update) the reaper's Temporal Schedule."""
    interval = _parse("--every", parse_duration, every)
    assert interval is not None
    done = _connected(settings, lambda c: install_reaper(c, settings.task_queue, interval))
    console.print(f"reaper schedule {REAPER_SCHEDULE_ID} {done}: every {every}")


@reaper.command("run")
@click.option("--dry-run", is_flag=True, help="Report orphans without cancelling them.")
@json_option
@temporal_options
def reaper_run(dry_run: bool, as_json: bool, settings: TemporalSettings) -> None:
    """Run the reaper once now and print what it found and did."""
    report = _connected(settings, lambda c: reap_now(c, settings.task_queue, dry_run=dry_run))
    lines = [f"checked {report.checked} running job(s) of ours; {len(report.orphans)} orphan(s)"]
    lines += [f"  {o.job_id} ({o.job_status}): {o.why}" for o in report.orphans]
    lines += [f"  cancelled {c.job_id}: backend says {c.status}" for c in report.cancelled]
    _emit(as_json, report, "\n".join(lines))


def load_spec_or_exit(path: Path, overrides: tuple[str, ...]) -> RunSpec:
    try:
        return load_spec(path, list(overrides))
    except SpecError as exc:
        _fail(exc, EXIT_BAD_INPUT)


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
        _fail(exc, EXIT_UNREACHABLE)
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
    code = EXIT_UNREACHABLE
    try:
        started = stack.up()
        console.print(f"local stack ready (started: {', '.join(started) or 'none, reused'})")
        code = _run(_run_and_watch(stack, spec))
    except DevStackError as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
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


async def _run_and_watch(stack: DevStack, spec: RunSpec) -> int:
    settings = TemporalSettings.resolve(
        address=stack.temporal_address, namespace="default", task_queue=stack.task_queue
    )
    client = await settings.connect()
    handle = await start_run(client, spec, task_queue=settings.task_queue)
    console.print(f"workflow [bold]{handle.id}[/]")
    console.print(
        f"Temporal UI: {stack.ui_url}/namespaces/default/workflows/{handle.id}", soft_wrap=True
    )
    return await _report(handle, live=True, as_json=False)


# -- components ---------------------------------------------------------------


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker (same as `python worker.py`; see its --help)."""
    import arkor_temporal.worker as worker_module

    worker_module.main(ctx.args)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def emulator(ctx: click.Context) -> None:
    """Run the Arkor emulator (same as `python -m emulator`; see its --help)."""
    from arkor_temporal.emulator.__main__ import main as emulator_main

    emulator_main(ctx.args)
