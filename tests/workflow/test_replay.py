"""Recorded histories replay cleanly against the current workflow code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from tests.support.replay import HISTORIES, replayer

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


async def test_a_history_the_code_would_not_make_fails_to_replay() -> None:
    """The replay guard can fail: a history whose first activity the code never schedules."""
    history = json.loads((HISTORIES / "test-completes.json").read_text())
    scheduled = next(
        event["activityTaskScheduledEventAttributes"]
        for event in history["events"]
        if "activityTaskScheduledEventAttributes" in event
    )
    assert scheduled["activityType"]["name"] == "create_or_adopt_job"
    scheduled["activityType"]["name"] = "create_job"
    with pytest.raises(Exception, match=r"(?i)nondetermin"):
        await replayer().replay_workflow(
            WorkflowHistory.from_json("tampered", json.dumps(history)),
            raise_on_replay_failure=True,
        )
