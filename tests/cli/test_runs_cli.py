"""``run status|watch|result|list`` against the dev server, the emulator and a real worker."""

from __future__ import annotations

import re
from pathlib import Path

from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from tests.cli.helpers import Completed, cli, poll, spec_name, write_spec
from tests.evals.support import triage_cases
from tests.workflow.test_training_run import running_worker

SLOW = {"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 8}}  # ~12 steps/s


async def test_status_shows_summary_and_live_details_then_watch_list_result(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxSteps=40, backend=SLOW)
    name = spec_name(spec)

    async def run(*args: str) -> Completed:
        return await cli(*args, client=temporal_client, task_queue=task_queue)

    async with running_worker(temporal_client, cloud_context, task_queue):
        workflow_id = (await run("run", "start", str(spec), "--json")).json()["workflow_id"]
        assert workflow_id.startswith(f"train-{name}-")

        async def status() -> dict:
            return (await run("run", "status", workflow_id, "--json")).json()

        def step_in(details: str | None) -> int:
            found = re.search(r"step: (\d+)/40", details or "")
            return int(found[1]) if found else 0

        first = await poll(status, lambda s: step_in(s["details"]) > 0)
        assert first["summary"] == f"Fine-tune {name} on unsloth/gemma-4-E4B-it, 40 steps"
        assert first["run"]["execution_status"] == "RUNNING"
        assert first["status"]["run_name"] == name and first["result"] is None
        later = await poll(status, lambda s: step_in(s["details"]) > step_in(first["details"]))
        assert step_in(later["details"]) > step_in(first["details"]), "live details move on"
        assert "phase **running**" in later["details"]

        text = await run("run", "status", workflow_id)
        assert text.code == 0 and f"Fine-tune {name}" in text.stdout

        watched = await run("run", "watch", workflow_id)
        assert watched.code == 0, watched.stderr
        assert "checkpoint saved at step 20" in watched.stdout
        assert "checkpoint saved at step 40" in watched.stdout
        assert re.search("[▁▂▃▄▅▆▇█]{5}", watched.stdout), "loss sparkline"
        assert "completed: training completed" in watched.stdout

    result = await run("run", "result", workflow_id, "--json")
    assert result.code == 0 and result.json()["status"] == "completed"
    ended = (await run("run", "status", workflow_id, "--json")).json()
    assert ended["run"]["execution_status"] == "COMPLETED"
    assert ended["result"]["metrics"]["steps"] == 40

    async def listed(*filters: str) -> list[dict]:
        done = await run("run", "list", *filters, "--json")
        rows: list[dict] = done.json()
        return rows

    rows = await poll(lambda: listed("--name", name), lambda r: r and r[0]["phase"] == "completed")
    assert [(r["workflow_id"], r["phase"], r["checkpoint_step"]) for r in rows] == [
        (workflow_id, "completed", 40)
    ]
    assert rows[0]["job_id"] and rows[0]["model"] == "unsloth/gemma-4-E4B-it"
    combined = await listed(
        "--phase", "completed", "--model", "unsloth/gemma-4-E4B-it", "--since", "10m", "--closed"
    )
    assert workflow_id in [r["workflow_id"] for r in combined]
    assert [r["workflow_id"] for r in await listed("--name", name[:-2] + "*")] == [workflow_id]
    assert await listed("--name", name, "--phase", "failed") == []
    assert await listed("--name", name, "--running") == []
    table = await run("run", "list", "--name", name)
    assert workflow_id in table.stdout and "completed" in table.stdout


async def test_exit_codes_follow_the_run_outcome(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    failing = write_spec(
        tmp_path, backend={"emulator": {"scenario": "fail", "atStep": 10, "error": "disk full"}}
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        started = await cli(
            "run", "start", str(failing), "--json", client=temporal_client, task_queue=task_queue
        )
        workflow_id = started.json()["workflow_id"]
        watched = await cli("run", "watch", workflow_id, "--json", client=temporal_client)
        ok = await cli(
            "run", "start", str(write_spec(tmp_path)), "--watch",
            client=temporal_client, task_queue=task_queue,
        )  # fmt: skip
    assert watched.code == 1
    assert watched.json()["status"] == "failed" and "disk full" in watched.json()["reason"]
    result = await cli("run", "result", workflow_id, "--json", client=temporal_client)
    assert result.code == 1 and result.json()["status"] == "failed"
    assert ok.code == 0 and "completed: training completed" in ok.stdout


async def test_unknown_run_ids_and_bad_flags_are_refused_clearly(temporal_client: Client) -> None:
    for verb in ("status", "watch", "result"):
        done = await cli("run", verb, "no-such-run", client=temporal_client)
        assert done.code == 2, (verb, done.stderr)
        assert "no run with workflow id 'no-such-run'" in done.stderr
    since = await cli("run", "list", "--since", "yesterday", client=temporal_client)
    assert since.code == 2 and "--since" in since.stderr
    phase = await cli("run", "list", "--phase", "sleeping", client=temporal_client)
    assert phase.code == 2 and "--phase" in phase.stderr
    both = await cli("run", "start", "x.yaml", "--wait", "--watch", client=temporal_client)
    assert both.code == 2 and "not both" in both.stderr
    profile = await cli("run", "list", "--profile", "nope", client=temporal_client)
    assert profile.code == 2 and "Profile 'nope' not found" in profile.stderr


async def test_watch_shows_eval_scores_as_they_land(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, evals={"cases": triage_cases()[:4]})
    async with running_worker(temporal_client, cloud_context, task_queue):
        watched = await cli(
            "run", "start", str(spec), "--watch", client=temporal_client, task_queue=task_queue
        )
    assert watched.code == 0, watched.stderr
    for step in (20, 40):
        assert re.search(rf"eval of checkpoint {step}: score \d\.\d{{3}}", watched.stdout)
    assert "completed: training completed" in watched.stdout
