"""The ``arkor-temporal`` console entry: the root group with every command group attached."""

from __future__ import annotations

import click

from arkor_temporal.cli import (
    codec,
    completion,
    components,
    dev,
    doctor,
    reaper,
    reports,
    runs,
    schedules,
    setup,
    spec,
)
from arkor_temporal.cli.app import cli
from arkor_temporal.process import hard_exit
from arkor_temporal.telemetry.tracing import shutdown_tracing

COMMANDS: tuple[click.Command, ...] = (
    setup.setup,
    doctor.doctor,
    runs.run,
    schedules.schedule,
    reaper.reaper,
    dev.dev,
    components.worker,
    components.emulator,
    codec.codec_server,
    spec.spec,
    completion.completion,
)
for command in COMMANDS:
    cli.add_command(command)
runs.run.add_command(reports.report)
runs.run.add_command(reports.compare)


def main() -> None:
    """Console entry point (``arkor-temporal``, ``python -m arkor_temporal``)."""
    try:
        cli.main()
    except SystemExit as exc:
        shutdown_tracing()  # exports the spans still buffered (with OTEL_TRACES_EXPORTER set)
        hard_exit(exc.code)  # skips interpreter teardown: see arkor_temporal.process
