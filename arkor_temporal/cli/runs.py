"""``arkor-temporal run``: start, follow, list and cancel training runs."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from temporalio.client import Client

from arkor_temporal.cli.app import (
    EXIT_BAD_INPUT,
    connected,
    console,
    emit,
    errors,
    fail,
    json_option,
    temporal_options,
)
from arkor_temporal.cli.inputs import load_spec_or_exit, overrides_option, parse_flag, spec_argument
from arkor_temporal.cli.views.logs import LogLine, record_lines
from arkor_temporal.cli.views.runs import (
    cancel_text,
    evals_table,
    metrics_csv,
    metrics_table,
    result_table,
    runs_table,
    status_view,
)
from arkor_temporal.cli.views.watch import LiveRunView
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.doctor import no_worker_warning
from arkor_temporal.client.links import ENV_UI_URL, run_link
from arkor_temporal.client.runs import (
    RunFilter,
    RunHandle,
    RunRecord,
    cancel_run,
    describe_run,
    describe_training_run,
    exit_code,
    follow_run,
    get_run,
    list_runs,
    run_record,
    run_spec,
    start_run,
    wait_for_result,
)
from arkor_temporal.core.durations import parse_since
from arkor_temporal.core.models import Phase, RunResult
from arkor_temporal.core.spec import SpecError, apply_overrides, parse_spec, spec_data
from arkor_temporal.process import EXIT_INTERRUPTED


@click.group()
def run() -> None:
    """Start, follow, list and cancel training runs."""


run_id_argument = click.argument("workflow_id", metavar="ID")
LOG_POLL_SECONDS = 1.0  # `run logs --follow`: how often the record is read again


def wait_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--wait`` and ``--watch``, for the commands that start a run."""
    func = click.option(
        "--watch", is_flag=True, help="Like --wait, with the live view of `run watch`."
    )(func)
    return click.option(
        "--wait", is_flag=True, help="Wait for the result; exit non-zero unless it completed."
    )(func)


WIDE_LINES = 1000


async def _watch_live(handle: RunHandle, screen: Console) -> RunResult:
    """Show the run's live view on ``screen`` until it closes; return its result."""
    started_at = (await describe_training_run(handle)).start_time
    with LiveRunView(handle.id, screen, started_at) as view:
        async for snapshot in follow_run(handle):
            view.show(snapshot)
        result = await wait_for_result(handle)
        view.finish(result)
    return result


async def report_result(handle: RunHandle, *, live: bool, as_json: bool) -> int:
    """Wait for the run (live view on the terminal, or not), print its result, give the exit code.

    With ``--json`` the live view goes to stderr, so stdout holds only the result.
    """
    if live:
        result = await _watch_live(handle, errors if as_json else console)
    else:
        result = await wait_for_result(handle)
    emit(as_json, result, result_table(result))
    return exit_code(result)


@run.command("start")
@spec_argument
@overrides_option("Override a spec field, e.g. maxSteps=200 (repeatable).")
@click.option("--id", "workflow_id", help="Workflow id (default: train-<name>-<timestamp>).")
@wait_options
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
        fail("give --wait or --watch, not both", EXIT_BAD_INPUT)

    started: list[str] = []  # the run's id, for Ctrl-C's message

    async def go(client: Client) -> int:
        handle = await start_run(
            client, spec, task_queue=settings.task_queue, workflow_id=workflow_id
        )
        started.append(handle.id)
        return await _after_start(client, handle, settings, wait=wait, watch=watch, as_json=as_json)

    spec = load_spec_or_exit(spec_path, overrides)  # validated before anything starts
    try:
        code = connected(settings, go)
    except KeyboardInterrupt:
        _interrupted(started[0] if started else None)
    sys.exit(code)


async def _after_start(
    client: Client,
    handle: RunHandle,
    settings: TemporalSettings,
    *,
    wait: bool,
    watch: bool,
    as_json: bool,
) -> int:
    """What `run start` and `run rerun` print once the run is started: its id (or JSON)
    and Web UI link, a warning when no worker polls; with --wait/--watch, its result."""
    if warning := await no_worker_warning(client, settings.task_queue):
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    link = run_link(settings.address, settings.namespace, handle.id)
    if not (wait or watch):
        started = {"workflow_id": handle.id, "run_id": handle.result_run_id, "web_ui": link}
        emit(as_json, started, handle.id)
        _show_link(link, as_json)
        return 0
    errors.print(f"started {handle.id}", highlight=False)
    _show_link(link, as_json)
    return await report_result(handle, live=watch, as_json=as_json)


@run.command("status")
@run_id_argument
@json_option
@temporal_options
def run_status(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """Show a run: summary, search attributes, live details (or its result once ended),
    hook failures and undelivered notifications, and its loss and eval-score curves."""

    async def go(client: Client) -> None:
        handle = get_run(client, workflow_id)
        info = await describe_run(handle)
        # The curves: an ended run's result already holds them (no second read).
        record = None
        if not as_json:
            record = RunRecord.of_result(info.result) if info.result else await run_record(handle)
        emit(as_json, info, status_view(info, record, console.width))
        _show_link(run_link(settings.address, settings.namespace, workflow_id), as_json)

    connected(settings, go)


def _show_link(link: str | None, as_json: bool) -> None:
    """The run's Web UI page, on stderr (stdout stays the id or the JSON)."""
    if link is not None and not as_json:
        errors.print(f"Web UI: {link}", highlight=False, soft_wrap=True)


@run.command("open")
@run_id_argument
@click.option("--print", "print_only", is_flag=True, help="Print the link, open nothing.")
@temporal_options
def run_open(workflow_id: str, print_only: bool, settings: TemporalSettings) -> None:
    """Open a run's page in the Temporal Web UI (ARKOR_TEMPORAL_UI_URL sets the UI's address)."""
    link = run_link(settings.address, settings.namespace, workflow_id)
    if link is None:
        fail(
            f"no Web UI address is known for Temporal at {settings.address}: set "
            f"{ENV_UI_URL} to it (for example https://temporal.example.com)",
            EXIT_BAD_INPUT,
        )
    click.echo(link)
    if not print_only:
        webbrowser.open(link)


@run.command("metrics")
@run_id_argument
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (step,loss,eval_loss,lr).")
@json_option
@temporal_options
def run_metrics(workflow_id: str, as_csv: bool, as_json: bool, settings: TemporalSettings) -> None:
    """A run's downsampled metrics series (live while it runs, from its result after)."""

    async def go(client: Client) -> None:
        record = await run_record(get_run(client, workflow_id))
        if as_csv:
            click.echo(metrics_csv(record.series), nl=False)
        else:
            emit(as_json, record.series, metrics_table(record.series))

    connected(settings, go)


@run.command("evals")
@run_id_argument
@json_option
@temporal_options
def run_evals(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """A run's checkpoint evaluations: each case's pass/fail and score per checkpoint."""

    async def go(client: Client) -> None:
        record = await run_record(get_run(client, workflow_id))
        emit(as_json, record.evals, evals_table(record.evals))

    connected(settings, go)


@run.command("watch")
@run_id_argument
@json_option
@temporal_options
def run_watch(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """Follow a run live until it ends; the exit code tells how it ended.

    The header counts from the run's start: step/max, elapsed, throughput, ETA,
    loss, eval loss and the best checkpoint so far; then the loss and eval-score
    curves, checkpoints and evaluations as they land, and the result (with the
    stop or cancel reason). With --json the live view goes to stderr and the
    result JSON to stdout. Ctrl-C leaves the run running and exits 130.
    """
    _exit_with_result(settings, workflow_id, live=True, as_json=as_json)


@run.command("result")
@run_id_argument
@json_option
@temporal_options
def run_result(workflow_id: str, as_json: bool, settings: TemporalSettings) -> None:
    """Print a run's result, waiting for it to end; the exit code tells how it ended."""
    _exit_with_result(settings, workflow_id, live=False, as_json=as_json)


def _exit_with_result(
    settings: TemporalSettings, workflow_id: str, *, live: bool, as_json: bool
) -> NoReturn:
    """``report_result`` for an existing run, then exit with its code."""

    async def go(client: Client) -> int:
        handle = get_run(client, workflow_id)
        await describe_training_run(handle)  # an unknown id fails here, clearly
        return await report_result(handle, live=live, as_json=as_json)

    try:
        code = connected(settings, go)
    except KeyboardInterrupt:
        _interrupted(workflow_id)
    sys.exit(code)


def reattach_hint(workflow_id: str, flags: str = "") -> str:
    """How to reach a run again after leaving it (``flags``: the connection flags it needs)."""
    watch = f"`arkor-temporal run watch {workflow_id}{flags}`"
    cancel = f"`arkor-temporal run cancel {workflow_id}{flags} --reason ...`"
    return f"follow it again with {watch}, or cancel it with {cancel}"


def _interrupted(workflow_id: str | None) -> NoReturn:
    """Ctrl-C while following a run: it goes on (a worker runs it, not this command)."""
    if workflow_id is None:
        fail("interrupted before the run started", EXIT_INTERRUPTED)
    errors.print(
        f"\ninterrupted: run {workflow_id} goes on (a worker runs it, not this command); "
        f"{reattach_hint(workflow_id)}",
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(EXIT_INTERRUPTED)


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
@click.option("--wide", is_flag=True, help="Every column, full ids and Web UI links.")
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
    wide: bool,
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """List runs, newest first, filtered through their search attributes.

    Each row shows the outcome (or phase), step/max, last loss, best eval score and
    duration; a narrow terminal gets the essentials with shortened ids, --wide or --json
    everything with full ids and the Web UI link.
    """
    run_filter = RunFilter(
        phase=phase,
        model=model,
        name=name,
        since=None if since is None else parse_flag("--since", parse_since, since),
        running=running,
        extra=extra,
    )

    async def go(client: Client) -> None:
        rows = await list_runs(client, run_filter, limit=limit, progress=True)
        links = [run_link(settings.address, settings.namespace, r.workflow_id) for r in rows]
        if as_json:
            listed = zip(rows, links, strict=True)
            click.echo(json.dumps([{**r.model_dump(mode="json"), "web_ui": u} for r, u in listed]))
        else:
            table = runs_table(rows, links, console.width, wide=wide)
            # --wide is for copying and grepping: lines as long as they need, never cut.
            screen = Console(width=WIDE_LINES, soft_wrap=True) if wide else console
            screen.print(table)

    connected(settings, go)


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
        # The signal has no answer: its JSON says only that it was sent.
        sent = {"workflow_id": workflow_id, "outcome": "signalled"}
        emit(as_json, sent if ack is None else ack, cancel_text(ack))

    connected(settings, go)


@run.command("logs")
@run_id_argument
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@temporal_options
def run_logs(workflow_id: str, follow: bool, settings: TemporalSettings) -> None:
    """A run's log: training logs as Arkor's Studio prints them (step=N loss=X evalLoss=Y),
    checkpoints, evaluations, failed hooks, notifications and the outcome.

    The training lines come from the run's recorded metrics series (each logged step
    until the series holds metricsPoints, every other one and so on after that), and
    with --follow also from the stream's latest log as it lands. Ctrl-C stops
    following (exit 130); the run goes on.
    """

    async def go(client: Client) -> None:
        handle = get_run(client, workflow_id)
        printed: set[LogLine] = set()
        while True:
            record = await run_record(handle)
            for line in record_lines(record):
                if line not in printed:
                    printed.add(line)
                    click.echo(line.text)
            if record.result is not None or not follow:
                return
            await asyncio.sleep(LOG_POLL_SECONDS)

    try:
        connected(settings, go)
    except KeyboardInterrupt:
        _interrupted(workflow_id)


@run.command("rerun")
@run_id_argument
@overrides_option("Change a field of the run's spec, e.g. learningRate=1e-4 (repeatable).")
@click.option("--id", "new_id", help="Workflow id of the new run (default: train-<name>-<time>).")
@wait_options
@json_option
@temporal_options
def run_rerun(
    workflow_id: str,
    overrides: tuple[str, ...],
    new_id: str | None,
    wait: bool,
    watch: bool,
    as_json: bool,
    settings: TemporalSettings,
) -> None:
    """Start a new run with the spec of run ID, changed by --set; print the new id.

    The spec is the one the run was started with (from Temporal, not from a file), so
    a rerun needs no copy of it. The new run is independent: its own id, job and result.
    """
    if wait and watch:
        fail("give --wait or --watch, not both", EXIT_BAD_INPUT)
    started: list[str] = []

    async def go(client: Client) -> int:
        original = await run_spec(client, workflow_id)
        try:
            spec = parse_spec(apply_overrides(spec_data(original), list(overrides)), workflow_id)
        except SpecError as exc:
            fail(exc, EXIT_BAD_INPUT)
        handle = await start_run(client, spec, task_queue=settings.task_queue, workflow_id=new_id)
        started.append(handle.id)
        return await _after_start(client, handle, settings, wait=wait, watch=watch, as_json=as_json)

    try:
        code = connected(settings, go)
    except KeyboardInterrupt:
        _interrupted(started[0] if started else None)
    sys.exit(code)
