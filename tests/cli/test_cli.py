"""The ``arkor-temporal`` command, run as a real process against the dev server and emulator."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest

from tests.support.backend import create_attempts
from tests.support.cli import DISK_FULL_BACKEND, POLL_INTERVAL, Command, write_spec
from tests.support.runs import Runs
from tests.support.waiting import eventually


async def test_run_start_wait_json_completed(runs: Runs, command: Command, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    async with runs.worker():
        done = await command("run", "start", str(spec), "--wait", "--json", "--set", "maxSteps=30")
    assert done.code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert result["metrics"]["steps"] == 30
    assert "started train-cli-" in done.stderr


async def test_run_start_prints_the_workflow_id(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    async with runs.worker():
        done = await command("run", "start", str(spec), "--id", "my-run-id")
        assert done.code == 0, done.stderr
        assert done.stdout.strip() == "my-run-id"
        await runs.client.get_workflow_handle("my-run-id").result()


async def test_failed_run_exits_1_with_reason(runs: Runs, command: Command, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, backend=DISK_FULL_BACKEND)
    async with runs.worker():
        done = await command("run", "start", str(spec), "--wait")
    assert done.code == 1
    assert "failed" in done.stdout and "disk full" in done.stdout


async def test_invalid_spec_exits_2_naming_fields_and_starts_nothing(
    command: Command, tmp_path: Path, inspect: httpx.Client
) -> None:
    before = len(create_attempts(inspect))
    spec = write_spec(tmp_path, maxSteps=-1, learningRat=0.1)
    done = await command("run", "start", str(spec))
    assert done.code == 2
    assert "maxSteps:" in done.stderr and "learningRat: unknown field" in done.stderr
    missing = await command("run", "start", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and "file not found" in missing.stderr
    assert len(create_attempts(inspect)) == before


async def test_unreachable_temporal_says_what_to_start(tmp_path: Path, command: Command) -> None:
    spec = write_spec(tmp_path)
    done = await command("run", "start", str(spec), "--address", "127.0.0.1:1")
    assert done.code == 4
    assert "cannot reach Temporal at 127.0.0.1:1" in done.stderr
    assert "arkor-temporal dev up" in done.stderr


async def test_setup_registers_search_attributes_idempotently(command: Command) -> None:
    namespace = f"setup-{uuid.uuid4().hex[:8]}"
    await command.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    first = await eventually(  # a new namespace takes a moment to be usable
        lambda: command("setup", "--namespace", namespace),
        lambda done: done.code == 0,
        within=60,
        interval=POLL_INTERVAL,
        what=f"`setup` to succeed in the new namespace {namespace}",
    )
    assert "search attributes added: ArkorBestEval, ArkorJobId" in first.stdout
    second = await command("setup", "--namespace", namespace)
    assert second.code == 0 and "already registered" in second.stdout


async def test_reaper_run_reports_and_cancels_an_orphan(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxSteps=3000)
    async with runs.worker():
        started = await command("run", "start", str(spec), "--json")
        handle = runs.client.get_workflow_handle(started.json()["workflow_id"])
        status = await runs.wait_for_step(handle, 5)
        await handle.terminate("no cleanup")
        shown = await command("run", "status", handle.id)
        done = await command("reaper", "run", "--json")
    # A closed run never reads as running, whatever phase it last recorded.
    assert "terminated" in shown.stdout and "running" not in shown.stdout, shown.stdout
    assert done.code == 0, done.stderr
    report = done.json()
    assert [o["job_id"] for o in report["orphans"]] == [status.job_id]
    assert [c["status"] for c in report["cancelled"]] == ["cancelled"]
