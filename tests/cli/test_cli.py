"""The ``arkor-temporal`` command, run as a real process against the dev server and emulator."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from tests.cli.helpers import cli, write_spec
from tests.helpers import wait_for_step
from tests.workflow.test_training_run import running_worker


async def test_run_start_wait_json_completed(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    async with running_worker(temporal_client, cloud_context, task_queue):
        done = await cli(
            "run",
            "start",
            str(spec),
            "--wait",
            "--json",
            "--set",
            "maxSteps=30",
            client=temporal_client,
            task_queue=task_queue,
        )
    assert done.code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert result["metrics"]["steps"] == 30
    assert "started train-cli-" in done.stderr


async def test_run_start_prints_the_workflow_id(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    async with running_worker(temporal_client, cloud_context, task_queue):
        done = await cli(
            "run",
            "start",
            str(spec),
            "--id",
            "my-run-id",
            client=temporal_client,
            task_queue=task_queue,
        )
        assert done.code == 0, done.stderr
        assert done.stdout.strip() == "my-run-id"
        await temporal_client.get_workflow_handle("my-run-id").result()


async def test_failed_run_exits_1_with_reason(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path, backend={"emulator": {"scenario": "fail", "atStep": 10, "error": "disk full"}}
    )
    async with running_worker(temporal_client, cloud_context, task_queue):
        done = await cli(
            "run", "start", str(spec), "--wait", client=temporal_client, task_queue=task_queue
        )
    assert done.code == 1
    assert "failed" in done.stdout and "disk full" in done.stdout


async def test_invalid_spec_exits_2_naming_fields_and_starts_nothing(
    temporal_client: Client, tmp_path: Path, inspect: httpx.Client
) -> None:
    before = len(inspect.get("/_emulator/create-attempts").json()["attempts"])
    spec = write_spec(tmp_path, maxSteps=-1, learningRat=0.1)
    done = await cli("run", "start", str(spec), client=temporal_client)
    assert done.code == 2
    assert "maxSteps:" in done.stderr and "learningRat: unknown field" in done.stderr
    missing = await cli("run", "start", str(tmp_path / "nope.yaml"), client=temporal_client)
    assert missing.code == 2 and "file not found" in missing.stderr
    assert len(inspect.get("/_emulator/create-attempts").json()["attempts"]) == before


async def test_unreachable_temporal_says_what_to_start(
    tmp_path: Path, temporal_client: Client
) -> None:
    spec = write_spec(tmp_path)
    done = await cli("run", "start", str(spec), "--address", "127.0.0.1:1", client=temporal_client)
    assert done.code == 4
    assert "cannot reach Temporal at 127.0.0.1:1" in done.stderr
    assert "arkor-temporal dev up" in done.stderr


async def test_setup_registers_search_attributes_idempotently(temporal_client: Client) -> None:
    namespace = f"setup-{uuid.uuid4().hex[:8]}"
    await temporal_client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    first = await cli("setup", "--namespace", namespace, client=temporal_client)
    for _ in range(50):  # a new namespace takes a moment to be usable
        if first.code == 0:
            break
        await asyncio.sleep(0.2)
        first = await cli("setup", "--namespace", namespace, client=temporal_client)
    assert first.code == 0, first.stderr
    assert "search attributes added: ArkorBestEval, ArkorJobId" in first.stdout
    second = await cli("setup", "--namespace", namespace, client=temporal_client)
    assert second.code == 0 and "already registered" in second.stdout


async def test_reaper_run_reports_and_cancels_an_orphan(
    temporal_client: Client, cloud_context: CloudContext, task_queue: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxSteps=3000)
    async with running_worker(temporal_client, cloud_context, task_queue):
        started = await cli(
            "run", "start", str(spec), "--json", client=temporal_client, task_queue=task_queue
        )
        workflow_id = started.json()["workflow_id"]
        status = await wait_for_step(temporal_client, workflow_id, 5)
        await temporal_client.get_workflow_handle(workflow_id).terminate("no cleanup")
        done = await cli("reaper", "run", "--json", client=temporal_client, task_queue=task_queue)
    assert done.code == 0, done.stderr
    report = done.json()
    assert [o["job_id"] for o in report["orphans"]] == [status.job_id]
    assert [c["status"] for c in report["cancelled"]] == ["cancelled"]
