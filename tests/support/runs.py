"""Training runs for the end-to-end tests: small specs, starting a run, waiting on its status."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client.runs import RunHandle, start_run, wait_for_result
from arkor_temporal.core.models import RunResult, StatusView
from arkor_temporal.core.spec import RunSpec, parse_spec
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.worker import WorkerGroup
from arkor_temporal.workflows.training_run import TrainingRun
from tests.support.waiting import eventually
from tests.support.workers import running_worker, worker_process

MODEL = "unsloth/gemma-4-E4B-it"


def make_spec(**overrides: Any) -> RunSpec:
    """A small, fast run on the emulator; keyword arguments override spec fields."""
    data: dict[str, Any] = {
        "name": "test-run",
        "model": MODEL,
        "dataset": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "lora": {"r": 16, "alpha": 32},
        "maxSteps": 60,
        "loggingSteps": 5,
        "saveSteps": 20,
        "evalSteps": 20,
        "orchestration": {"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": 5},
    }
    data.update(overrides)
    return parse_spec(data)


def emulator_faults(**faults: Any) -> dict[str, Any]:
    """A spec's ``backend`` for an emulator job that injects ``faults``."""
    return {"emulator": {"faults": faults}}


def slow_spec(name: str, heartbeat_timeout: float) -> RunSpec:
    """A run long enough (about 18 s on the test emulator) to lose a worker in the middle of."""
    return make_spec(
        name=name,
        maxSteps=600,
        backend={"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 3}},
        orchestration={"metricsFlushSeconds": 0.2, "heartbeatTimeoutSeconds": heartbeat_timeout},
    )


@dataclass(frozen=True)
class Runs:
    """One test's training runs: started on its own task queue and served by its workers."""

    client: Client
    context: CloudContext
    task_queue: str
    emulator_server: EmulatorServer

    def worker(self) -> AbstractAsyncContextManager[WorkerGroup]:
        """A worker in this process, for the duration of the block."""
        return running_worker(self.client, self.context, self.task_queue)

    def worker_process(
        self, extra_env: Mapping[str, str] | None = None
    ) -> AbstractContextManager[subprocess.Popen[bytes]]:
        """A real worker process, for tests that kill it (see :func:`worker_process`)."""
        return worker_process(self.emulator_server, self.client, self.task_queue, extra_env)

    async def start(self, spec: RunSpec) -> RunHandle:
        """Start the run under a workflow id of its own (``test-<name>-<8 hex>``)."""
        workflow_id = f"test-{spec.name}-{uuid.uuid4().hex[:8]}"
        return await start_run(
            self.client, spec, task_queue=self.task_queue, workflow_id=workflow_id
        )

    async def wait_for_status(
        self, handle: RunHandle, ready: Callable[[StatusView], bool], *, what: str
    ) -> StatusView:
        """Poll the run's ``status`` query until ``ready`` (``what`` it means, for the failure);
        fail at once if the run closes first."""
        # By workflow id alone: the latest run of the chain, also after a continue-as-new.
        latest = self.client.get_workflow_handle(handle.id)

        async def status() -> StatusView:
            description = await latest.describe()
            assert description.status == WorkflowExecutionStatus.RUNNING, (
                f"{handle.id} closed ({description.status!r}) before {what}"
            )
            return await latest.query(TrainingRun.status)

        return await eventually(
            status,
            ready,
            within=60,
            what=f"{what} in {handle.id}",
            retrying=(RPCError, WorkflowQueryFailedError),  # no worker has answered yet
        )

    async def wait_for_step(self, handle: RunHandle, step: int) -> StatusView:
        return await self.wait_for_status(
            handle, lambda status: status.step >= step, what=f"step {step}"
        )

    @asynccontextmanager
    async def training(self, spec: RunSpec, step: int) -> AsyncIterator[RunHandle]:
        """The run started and past ``step``, with a worker in this process for the block."""
        async with self.worker():
            handle = await self.start(spec)
            await self.wait_for_step(handle, step)
            yield handle

    async def run_to_end(self, spec: RunSpec) -> tuple[RunHandle, RunResult]:
        """Start the run and await its result with a worker in this process."""
        async with self.worker():
            handle = await self.start(spec)
            return handle, await handle.result()

    async def run_to_failure(
        self, spec: RunSpec
    ) -> tuple[RunHandle, WorkflowFailureError, RunResult]:
        """Start a run whose workflow must fail: its handle, the failure and the result it kept."""
        async with self.worker():
            handle = await self.start(spec)
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
            return handle, failure.value, await wait_for_result(handle)

    async def finish(self, handle: RunHandle) -> RunResult:
        """The result of a run started elsewhere (on a worker that is gone), served from here."""
        async with self.worker():
            return await handle.result()
