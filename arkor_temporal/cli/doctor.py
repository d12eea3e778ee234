"""``arkor-temporal doctor``: what stands between a spec and a training run, with the fixes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from arkor_temporal.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_UNREACHABLE,
    emit,
    errors,
    json_option,
    run_async,
    temporal_options,
)
from arkor_temporal.cli.inputs import load_spec_or_exit
from arkor_temporal.cli.views.doctor import checks_table, summary_text
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.doctor import TEMPORAL, Check, Status, diagnose


def exit_code(checks: Sequence[Check]) -> int:
    failed = {check.name for check in checks if check.status is Status.FAIL}
    if TEMPORAL in failed:
        return EXIT_UNREACHABLE
    return EXIT_BAD_INPUT if failed else 0


@click.command()
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path),
    help="Also check the variables this spec names (webhook URLs, the dataset's token).",
)
@json_option
@temporal_options
def doctor(spec_path: Path | None, as_json: bool, settings: TemporalSettings) -> None:
    """Check Temporal, the namespace, search attributes, workers and settings; print each fix.

    Temporal is checked as this command connects (the connection flags below):
    the server answers, the namespace exists, the search attributes are
    registered with their types, and a worker polls each of the task queue's
    three queues (QUEUE, QUEUE-streams, QUEUE-work). Then what this shell can
    see of the worker's settings: the Arkor token, project and API URL (the token
    is never shown), ARKOR_TEMPORAL_UI_URL, and with --spec the variables the spec
    names. The worker reads its own environment, perhaps elsewhere, so those,
    like a queue without a worker, are warnings.

    Exit 0 when nothing failed (warnings allowed), 4 when Temporal cannot be
    reached with these settings (address, TLS, API key), 2 when another check
    failed (no such namespace, missing search attributes, a malformed address)
    or the settings or --spec are invalid.
    """
    spec = load_spec_or_exit(spec_path, ()) if spec_path is not None else None
    checks = run_async(diagnose(settings, spec=spec))
    emit(as_json, checks, checks_table(checks))
    errors.print(f"doctor: {summary_text(checks)}", highlight=False, soft_wrap=True)
    sys.exit(exit_code(checks))
