"""Fixtures of the CLI suite: the command, bound to the test's server and task queue."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from tests.support.cli import Command


@pytest.fixture
def command(temporal_client: Client, task_queue: str) -> Command:
    return Command(temporal_client, task_queue)
