"""``arkor-temporal setup``: register the search attributes once per namespace."""

from __future__ import annotations

import click

from arkor_temporal.cli.app import connected, console, temporal_options
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.client.setup import register_search_attributes


@click.command()
@temporal_options
def setup(settings: TemporalSettings) -> None:
    """Register the search attributes the workflows use (safe to run again)."""
    added = connected(settings, register_search_attributes)
    console.print(
        f"search attributes added: {', '.join(added)}"
        if added
        else "search attributes already registered"
    )
