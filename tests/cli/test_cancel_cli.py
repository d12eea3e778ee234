"""``run cancel``: the update (acknowledged after the backend cancel) and the signal."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from tests.cli.helpers import cli, poll, write_spec
from tests.workflow.test_training_run import running_worker

SLOW = {"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 8}}  # ~12 steps/s


async def started_and_training(client: Client, task_queue: str, spec: Path) -> str:
    started = await cli("run", "start", str(spec), "--json", client=client, task_queue=task_queue)
    workflow_id: str = started.json()["workflow_id"]

    async def step() -> int:
        status = (await cli("run", "status", workflow_id, "--json", client=client)).json()
        return int(status["status"]["step"]) if status["status"] else 0

    await poll(step, lambda s: s > 0)
    return workflow_id


async def test_cancel_update_answers_after_the_backend_cancel_and_result_exits_3(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    tmp_path: Path,
    inspect: httpx.Client,
) -> None:
    spec = write_spec(tmp_path, maxSteps=400, backend=SLOW)
    async with running_worker(temporal_client, cloud_context, task_queue):
        workflow_id = await started_and_training(temporal_client, task_queue, spec)
        blank = await cli("run", "cancel", workflow_id, "--reason", " ", client=temporal_client)
        assert blank.code == 2 and "refused" in blank.stderr
        done = await cli(
            "run", "cancel", workflow_id, "--reason", "bad data", "--by", "ops", "--json",
            client=temporal_client,
        )  # fmt: skip
        assert done.code == 0, done.stderr
        ack = done.json()
        assert ack["outcome"] == "cancelled" and ack["job_id"]
        assert inspect.get(f"/_emulator/jobs/{ack['job_id']}/cancels").json()["cancels"]
        result = await cli("run", "result", workflow_id, "--json", client=temporal_client)
    assert result.code == 3
    assert result.json()["status"] == "cancelled" and "bad data" in result.json()["reason"]
    again = await cli("run", "cancel", workflow_id, "--reason", "twice", client=temporal_client)
    assert again.code == 0 and "already_finished (run cancelled" in again.stdout
    unknown = await cli("run", "cancel", "no-such-run", "--reason", "x", client=temporal_client)
    assert unknown.code == 2 and "no run with workflow id 'no-such-run'" in unknown.stderr


async def test_cancel_signal_ends_a_watched_run_with_exit_3(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxSteps=400, backend=SLOW)
    async with running_worker(temporal_client, cloud_context, task_queue):
        workflow_id = await started_and_training(temporal_client, task_queue, spec)
        signalled = await cli(
            "run", "cancel", workflow_id, "--reason", "superseded", "--signal",
            client=temporal_client,
        )  # fmt: skip
        assert signalled.code == 0 and "cancel signalled" in signalled.stdout
        watched = await cli("run", "watch", workflow_id, client=temporal_client)
    assert watched.code == 3, watched.stderr
    assert re.search(r"cancelled: .*superseded", watched.stdout), watched.stdout
