"""Recorded histories replay cleanly against the current workflow code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from tests.workflow.replay import HISTORIES, replayer

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_histories_are_recorded() -> None:
    assert len(RECORDED) >= 3, "record histories with ARKOR_RECORD_HISTORIES=1 (see README)"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_history_replays(path: Path) -> None:
    text = path.read_text()
    started = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
    assert started["workflowType"]["name"] == "TrainingRun"
    await replayer().replay_workflow(
        WorkflowHistory.from_json(path.stem, text), raise_on_replay_failure=True
    )
