"""``run cancel``: the update (acknowledged after the backend cancel) and the signal."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.backend import cancel_calls
from tests.support.cli import POLL_INTERVAL, SLOW_BACKEND, Command, write_spec
from tests.support.runs import Runs
from tests.support.waiting import eventually


async def started_and_training(command: Command, spec: Path) -> str:
    started = await command("run", "start", str(spec), "--json")
    workflow_id: str = started.json()["workflow_id"]

    async def step() -> int:
        status = (await command("run", "status", workflow_id, "--json")).json()
        return int(status["status"]["step"]) if status["status"] else 0

    await eventually(
        step, lambda s: s > 0, within=20, interval=POLL_INTERVAL, what=f"{workflow_id} to train"
    )
    return workflow_id


async def test_cancel_update_answers_after_the_backend_cancel_and_result_exits_3(
    runs: Runs, command: Command, tmp_path: Path, inspect: httpx.Client
) -> None:
    spec = write_spec(tmp_path, maxSteps=400, backend=SLOW_BACKEND)
    async with runs.worker():
        workflow_id = await started_and_training(command, spec)
        blank = await command("run", "cancel", workflow_id, "--reason", " ")
        assert blank.code == 2 and "refused" in blank.stderr
        done = await command(
            "run", "cancel", workflow_id, "--reason", "bad data", "--by", "ops", "--json"
        )
        assert done.code == 0, done.stderr
        ack = done.json()
        assert ack["outcome"] == "cancelled" and ack["job_id"]
        assert cancel_calls(inspect, ack["job_id"])
        result = await command("run", "result", workflow_id, "--json")
    assert result.code == 3
    assert result.json()["status"] == "cancelled" and "bad data" in result.json()["reason"]
    again = await command("run", "cancel", workflow_id, "--reason", "twice")
    assert again.code == 0 and "already_finished (run cancelled" in again.stdout
    unknown = await command("run", "cancel", "no-such-run", "--reason", "x")
    assert unknown.code == 2 and "no run with workflow id 'no-such-run'" in unknown.stderr


async def test_cancel_signal_ends_a_watched_run_with_exit_3(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxSteps=400, backend=SLOW_BACKEND)
    async with runs.worker():
        workflow_id = await started_and_training(command, spec)
        signalled = await command(
            "run", "cancel", workflow_id, "--reason", "superseded", "--signal"
        )
        assert signalled.code == 0 and "cancel signalled" in signalled.stdout
        watched = await command("run", "watch", workflow_id)
    assert watched.code == 3, watched.stderr
    assert re.search(r"cancelled: .*superseded", watched.stdout), watched.stdout
