"""Running the real ``arkor-temporal`` command against the test server, and polling."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from temporalio.client import Client

CLI = str(Path(sys.executable).parent / "arkor-temporal")
T = TypeVar("T")


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON (whatever the exit code: failed runs print JSON too)."""
        assert self.stdout, f"no output (exit {self.code}): {self.stderr}"
        return json.loads(self.stdout)


async def cli(*args: str, client: Client, task_queue: str = "unused") -> Completed:
    """Run the command as a subprocess (asyncio: the in-process worker keeps running)."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "ARKOR_TEMPORAL_TASK_QUEUE": task_queue,
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


def write_spec(tmp_path: Path, **fields: object) -> Path:
    data = {
        "name": f"cli-{uuid.uuid4().hex[:6]}",
        "model": "unsloth/gemma-4-E4B-it",
        "dataset": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "maxSteps": 40,
        "loggingSteps": 5,
        "saveSteps": 20,
        "orchestration": {"metricsFlushSeconds": 0.2},
        **fields,
    }
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def spec_name(path: Path) -> str:
    name: str = yaml.safe_load(path.read_text())["name"]
    return name


async def poll(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 20.0,
    interval: float = 0.3,
) -> T:
    """Call ``probe`` until ``done`` accepts its answer (visibility is eventually consistent)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)
