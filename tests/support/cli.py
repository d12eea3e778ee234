"""Running the real ``arkor-temporal`` command against the test server, and its specs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

CLI = str(Path(sys.executable).parent / "arkor-temporal")
POLL_INTERVAL = 0.3  # seconds between probes that each start the command (a process)
# Spec ``backend`` values: a job that trains at ~12 steps/s; one that fails at step 10.
SLOW_BACKEND = {"emulator": {"scenario": "slow", "atStep": 1, "slowFactor": 8}}
DISK_FULL_BACKEND = {"emulator": {"scenario": "fail", "atStep": 10, "error": "disk full"}}


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON (whatever the exit code: failed runs print JSON too)."""
        assert self.stdout, f"no output (exit {self.code}): {self.stderr}"
        return json.loads(self.stdout)


@dataclass(frozen=True)
class Command:
    """The command, pointed at the test server with the test's task queue for what it starts."""

    client: Client
    task_queue: str

    async def __call__(self, *args: str, columns: int = 200) -> Completed:
        """Run it as a subprocess (asyncio: the in-process worker keeps running), its
        output as wide as a terminal of ``columns``."""
        process = await self.start(*args, columns=columns)
        stdout, stderr = await process.communicate()
        assert process.returncode is not None
        return Completed(process.returncode, stdout.decode(), stderr.decode())

    async def start(self, *args: str, columns: int = 200) -> asyncio.subprocess.Process:
        """Start it and leave it running (to signal it, or read it as it goes)."""
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": self.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": self.client.namespace,
            "ARKOR_TEMPORAL_TASK_QUEUE": self.task_queue,
            "NO_COLOR": "1",
            "COLUMNS": str(columns),
        }
        return await asyncio.create_subprocess_exec(
            CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )


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
