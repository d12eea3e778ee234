"""``arkor-temporal run report`` and ``run compare``: HTML pages from the runs' Temporal state."""

from __future__ import annotations

import re
import webbrowser
from pathlib import Path

import click
from temporalio.client import Client

from arkor_temporal.cli.app import EXIT_BAD_INPUT, connected, fail, temporal_options
from arkor_temporal.cli.runs import run_id_argument
from arkor_temporal.cli.views.report import compare_html, report_html
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.reports import gather_report, gather_reports

output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The HTML file to write.",
)
open_option = click.option(
    "--open", "open_page", is_flag=True, help="Open the page in a browser once written."
)


def file_name(text: str) -> str:
    """``text`` as a file name: path separators and other awkward characters become dashes."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-.") or "run"


def write_page(html: str, output: Path, open_page: bool) -> None:
    """Write the page, print its path (stdout), open it when asked."""
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_BAD_INPUT)
    path = output.resolve()
    click.echo(str(path))
    if open_page:
        webbrowser.open(path.as_uri())


@click.command("report")
@run_id_argument
@output_option
@open_option
@temporal_options
def report(
    workflow_id: str, output: Path | None, open_page: bool, settings: TemporalSettings
) -> None:
    """Write a self-contained HTML report of a run (default: ./<ID>.html) and print its path.

    Curves of loss, eval loss, learning rate and eval score, the per-case eval
    table, checkpoints, the outcome and stop reason, a link to the Web UI: all
    read from the run's own Temporal state. A running run gives a snapshot.
    """

    async def go(client: Client) -> str:
        return report_html(await gather_report(client, workflow_id))

    html = connected(settings, go)
    write_page(html, output or Path(f"{file_name(workflow_id)}.html"), open_page)


@click.command("compare")
@click.argument("workflow_ids", metavar="ID ID...", nargs=-1, required=True)
@output_option
@open_option
@temporal_options
def compare(
    workflow_ids: tuple[str, ...], output: Path | None, open_page: bool, settings: TemporalSettings
) -> None:
    """Overlay several runs' curves on one HTML page, with a summary table, and print its path.

    For example the nightly runs of a schedule: `run list --name 'nightly-*'`
    shows their ids. Default file: ./compare-<first ID>-and-<N>-more.html.
    """
    unique = list(dict.fromkeys(workflow_ids))
    if len(unique) < 2:
        fail("give at least two different run ids to compare", EXIT_BAD_INPUT)

    async def go(client: Client) -> str:
        return compare_html(await gather_reports(client, unique))

    html = connected(settings, go)
    default = Path(f"compare-{file_name(unique[0])}-and-{len(unique) - 1}-more.html")
    write_page(html, output or default, open_page)
