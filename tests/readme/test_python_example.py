"""The README's Python example, run as written against the test server and a real worker.

It is taken from the README itself (the block after "### From Python"), so an example
that stops working fails here; and it must exit with the run's own code, never with the
abort at interpreter exit that ``run_script`` avoids (sdk-python#300).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from temporalio.client import Client

from tests.support.cli import write_spec
from tests.support.runs import Runs

README = Path(__file__).resolve().parents[2] / "README.md"
FATAL = "Fatal Python error"


def python_example() -> str:
    section = README.read_text().split("### From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's Python section has no python block"
    return match.group(1)


async def run_python(
    script: Path, *args: str, client: Client, task_queue: str
) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "ARKOR_TEMPORAL_TASK_QUEUE": task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), *args, env=env, stdout=-1, stderr=-1
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_the_readme_example_trains_and_exits_with_the_runs_code(
    runs: Runs, temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(python_example())
    spec = write_spec(tmp_path, maxSteps=30)
    async with runs.worker():
        code, stdout, stderr = await run_python(
            script, str(spec), client=temporal_client, task_queue=task_queue
        )
    assert code == 0, stderr
    assert FATAL not in stderr
    assert "completed: training completed" in stdout
    assert re.search(r"^step \d+$", stdout, re.MULTILINE), stdout  # it followed the run
    assert "1 run(s) named" in stdout


TEARDOWN = "interpreter teardown ran"
SHORT_CLIENT_SCRIPT = f"""
import atexit
from arkor_temporal.client import TemporalSettings, list_runs, RunFilter, run_script

atexit.register(print, {TEARDOWN!r})  # runs only if the interpreter tears down

async def main() -> int:
    client = await TemporalSettings.resolve().connect()
    await list_runs(client, RunFilter(), limit=1)
    print("listed")
    return {{code}}

run_script(main)
"""


async def test_run_script_exits_with_mains_code_and_never_aborts_at_exit(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    """Short client-only processes are the ones that abort at teardown (here 2 in 32 with
    ``sys.exit(asyncio.run(main()))``): the teardown must not run at all, and every process
    exits with its own code, its output flushed."""
    scripts = []
    for code in (0, 3, 0, 5, 0, 3, 0, 1):
        script = tmp_path / f"short-{len(scripts)}.py"
        script.write_text(SHORT_CLIENT_SCRIPT.format(code=code))
        scripts.append((code, script))
    done = await asyncio.gather(
        *(run_python(s, client=temporal_client, task_queue=task_queue) for _, s in scripts)
    )
    assert [code for code, _, _ in done] == [code for code, _ in scripts]
    assert all(FATAL not in stderr for _, _, stderr in done)
    assert all(stdout == "listed\n" for _, stdout, _ in done)  # flushed, and no teardown


async def test_run_script_reports_an_exception_and_exits_1(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    script = tmp_path / "broken.py"
    script.write_text(
        "from arkor_temporal.client import run_script\n"
        "async def main():\n    raise ValueError('no spec given')\n"
        "run_script(main)\n"
    )
    code, _, stderr = await run_python(script, client=temporal_client, task_queue=task_queue)
    assert code == 1
    assert "ValueError: no spec given" in stderr and "Traceback" in stderr
