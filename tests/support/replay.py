"""Replaying recorded histories against the current workflow code.

Every end-to-end test replays the history it just made. With
``ARKOR_RECORD_HISTORIES=1`` the histories are also written to
``tests/histories/``, where ``test_replay.py`` replays them on every later change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from arkor_temporal.workflows.training_run import TrainingRun

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=[TrainingRun], data_converter=pydantic_data_converter)


async def assert_replays(handle: WorkflowHandle[TrainingRun, object]) -> None:
    history = await handle.fetch_history()
    await replayer().replay_workflow(history, raise_on_replay_failure=True)
    if os.environ.get("ARKOR_RECORD_HISTORIES") == "1":
        name = re.sub(r"-[0-9a-f]{8}$", "", handle.id)
        (HISTORIES / f"{name}.json").write_text(history.to_json())
