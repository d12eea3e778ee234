"""``run status|watch|result|list`` against the dev server, the emulator and a real worker."""

from __future__ import annotations

import re
import signal
import uuid
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from arkor_temporal.client.runs import get_run
from tests.support.cli import (
    DISK_FULL_BACKEND,
    POLL_INTERVAL,
    SLOW_BACKEND,
    Command,
    spec_name,
    write_spec,
)
from tests.support.evals import triage_cases
from tests.support.runs import Runs
from tests.support.waiting import eventually

BRAILLE = re.compile("[\u2801-\u28ff]{3}")  # a drawn curve


async def test_status_shows_summary_and_live_details_then_watch_list_result(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    # About 8 s of training: two `run status` calls (seconds each on a loaded machine)
    # must both find it running.
    slower = {"emulator": {**SLOW_BACKEND["emulator"], "slowFactor": 40}}
    spec = write_spec(tmp_path, maxSteps=40, backend=slower)
    name = spec_name(spec)
    async with runs.worker():
        workflow_id = (await command("run", "start", str(spec), "--json")).json()["workflow_id"]
        assert workflow_id.startswith(f"train-{name}-")

        async def status() -> dict:
            return (await command("run", "status", workflow_id, "--json")).json()

        def step_in(details: str | None) -> int:
            found = re.search(r"step (\d+)/40", details or "")
            return int(found[1]) if found else 0

        first = await eventually(
            status,
            lambda s: step_in(s["details"]) > 0,
            within=20,
            interval=POLL_INTERVAL,
            what="the live details to show a step",
        )
        assert first["summary"] == f"Fine-tune {name} on unsloth/gemma-4-E4B-it, 40 steps"
        assert first["run"]["execution_status"] == "RUNNING"
        assert first["status"]["run_name"] == name and first["result"] is None
        later = await eventually(
            status,
            lambda s: step_in(s["details"]) > step_in(first["details"]),
            within=20,
            interval=POLL_INTERVAL,
            what="the live details to move on",
        )
        assert "phase **running**" in later["details"]

        text = await command("run", "status", workflow_id)
        assert text.code == 0 and f"Fine-tune {name}" in text.stdout

        watched = await command("run", "watch", workflow_id)
        assert watched.code == 0, watched.stderr
        assert "checkpoint saved at step 20" in watched.stdout
        assert "checkpoint saved at step 40" in watched.stdout
        assert BRAILLE.search(watched.stdout), "the loss curve"
        assert "completed: training completed" in watched.stdout

    result = await command("run", "result", workflow_id, "--json")
    assert result.code == 0 and result.json()["status"] == "completed"
    ended = (await command("run", "status", workflow_id, "--json")).json()
    assert ended["run"]["execution_status"] == "COMPLETED"
    assert ended["result"]["metrics"]["steps"] == 40

    async def listed(*filters: str) -> list[dict]:
        done = await command("run", "list", *filters, "--json")
        rows: list[dict] = done.json()
        return rows

    rows = await eventually(
        lambda: listed("--name", name),
        lambda r: r and r[0]["phase"] == "completed",
        within=20,
        interval=POLL_INTERVAL,
        what=f"`run list` to show {name} completed",
    )
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
    table = await command("run", "list", "--name", name)
    assert workflow_id in table.stdout and "completed" in table.stdout


async def test_exit_codes_follow_the_run_outcome(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    failing = write_spec(tmp_path, backend=DISK_FULL_BACKEND)
    async with runs.worker():
        started = await command("run", "start", str(failing), "--json")
        workflow_id = started.json()["workflow_id"]
        watched = await command("run", "watch", workflow_id, "--json")
        ok = await command("run", "start", str(write_spec(tmp_path)), "--watch")
    assert watched.code == 1
    assert watched.json()["status"] == "failed" and "disk full" in watched.json()["reason"]
    result = await command("run", "result", workflow_id, "--json")
    assert result.code == 1 and result.json()["status"] == "failed"
    assert ok.code == 0 and "completed: training completed" in ok.stdout


async def test_unknown_run_ids_and_bad_flags_are_refused_clearly(command: Command) -> None:
    for verb in ("status", "watch", "result"):
        done = await command("run", verb, "no-such-run")
        assert done.code == 2, (verb, done.stderr)
        assert "no run with workflow id 'no-such-run'" in done.stderr
    since = await command("run", "list", "--since", "yesterday")
    assert since.code == 2 and "--since" in since.stderr
    phase = await command("run", "list", "--phase", "sleeping")
    assert phase.code == 2 and "--phase" in phase.stderr
    both = await command("run", "start", "x.yaml", "--wait", "--watch")
    assert both.code == 2 and "not both" in both.stderr
    profile = await command("run", "list", "--profile", "nope")
    assert profile.code == 2 and "Profile 'nope' not found" in profile.stderr
    for args in (
        ("run", "list"),
        ("run", "status", "no-such-run"),
        ("schedule", "list"),
        ("schedule", "describe", "nightly"),
    ):
        # A missing namespace is not a missing run: it is named, with the fix, no traceback.
        elsewhere = await command(*args, "--namespace", "no-such-namespace")
        assert elsewhere.code == 2, (args, elsewhere.stderr)
        assert "no namespace 'no-such-namespace'" in elsewhere.stderr
        assert "--namespace" in elsewhere.stderr and "Traceback" not in elsewhere.stderr


async def test_a_workflow_id_is_never_reused_running_or_closed(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path, backend=SLOW_BACKEND))
    workflow_id = f"reused-{uuid.uuid4().hex[:6]}"
    async with runs.worker():
        first = await command("run", "start", spec, "--id", workflow_id, "--json")
        running = await command("run", "start", spec, "--id", workflow_id)
        await command("run", "cancel", workflow_id, "--reason", "done with it")
        closed = await command("run", "start", spec, "--id", workflow_id)
    assert first.code == 0
    assert running.code == 2 and "Traceback" not in running.stderr
    assert f"a run with workflow id '{workflow_id}' already exists (still running)" in (
        running.stderr
    )
    assert closed.code == 2 and "already exists (closed: canceled)" in closed.stderr
    # The first run is still the one its id finds, with its own result.
    result = await command("run", "result", workflow_id, "--json")
    assert result.json()["reason"].endswith("done with it")


async def test_watch_logs_status_and_rerun_of_an_evaluated_run(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, evals={"cases": triage_cases()[:4]})
    async with runs.worker():
        watched = await command("run", "start", str(spec), "--watch", "--id", f"w-{uuid.uuid4()}")
        workflow_id = watched.stderr.split("started ", 1)[1].split()[0]
        logs = await command("run", "logs", workflow_id)
        status = await command("run", "status", workflow_id, columns=100)
        rerun = await command(
            "run", "rerun", workflow_id, "--set", "maxSteps=20", "--wait", "--json"
        )
    assert watched.code == 0, watched.stderr
    for step in (20, 40):
        assert re.search(rf"eval of checkpoint {step}: score \d\.\d{{3}}", watched.stdout)
    assert "completed: training completed" in watched.stdout
    assert re.search(r"step 40/40 .*\d:\d\d:\d\d elapsed", watched.stdout)
    assert re.search(r"best checkpoint (20|40) \(score \d\.\d{3}\)", watched.stdout)
    assert BRAILLE.search(watched.stdout) and "eval score" in watched.stdout  # the curves
    # The log, in step order: training lines as Studio prints them, then what happened.
    lines = logs.stdout.splitlines()
    assert (
        logs.code == 0
        and lines[0].startswith("step=")
        and lines[-1].startswith("training.completed")
    )
    assert re.fullmatch(r"step=5 loss=\d+\.\d{4}", lines[0])
    for expected in ("checkpoint.saved step=20", "checkpoint.saved step=40"):
        assert expected in lines
    evaluation = next(line for line in lines if line.startswith("evaluation step=20"))
    assert re.fullmatch(r"evaluation step=20 score=\d\.\d{3} cases=\d/4 (not )?passed", evaluation)
    assert lines.index("checkpoint.saved step=20") < lines.index(evaluation)
    assert len(lines) == len(set(lines))
    assert status.code == 0 and BRAILLE.search(status.stdout) and "eval score" in status.stdout
    # A rerun: the same spec from Temporal, changed by --set, as a run of its own.
    again = rerun.json()
    assert rerun.code == 0 and again["run_name"] == spec_name(spec)
    assert again["metrics"]["steps"] == 20 and again["max_steps"] == 20
    assert len(again["evals"]) == 1  # the rerun kept the spec's evaluations


async def test_list_fits_80_and_120_columns_and_wide_or_json_keep_everything(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    name = spec_name(spec)
    async with runs.worker():
        assert (await command("run", "start", str(spec), "--wait")).code == 0
        listed = await command("run", "list", "--name", name, "--json")
        [row] = listed.json()
        workflow_id = row["workflow_id"]
        narrow = await command("run", "list", "--name", name, columns=80)
        roomy = await command("run", "list", "--name", name, columns=120)
        wide = await command("run", "list", "--name", name, "--wide", columns=80)
    assert (row["outcome"], row["step"], row["max_steps"]) == ("completed", 40, 40)
    assert row["last_loss"] > 0 and row["duration_seconds"] > 0
    assert row["web_ui"].endswith(f"/workflows/{workflow_id}")
    for table, width in ((narrow, 80), (roomy, 120)):
        lines = table.stdout.splitlines()
        assert max(len(line.rstrip()) for line in lines) <= width, table.stdout
        [line] = [line for line in lines if "completed" in line]
        assert re.search(r" 40/40 +\d\.\d{4} +- +0:00:\d\d", line), line
        assert line.split()[0][-17:] == workflow_id[-17:]  # shortened from the front
    assert "run name" in roomy.stdout and "run name" not in narrow.stdout
    assert workflow_id in wide.stdout and row["web_ui"] in wide.stdout  # never cut


async def test_start_warns_when_no_worker_polls_the_task_queue(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path))
    alone = await command("run", "start", spec)
    assert alone.code == 0  # the run is started all the same: a worker may come later
    assert f"warning: no worker polls task queue {command.task_queue}" in alone.stderr
    assert f"arkor-temporal worker --task-queue {command.task_queue}" in alone.stderr
    async with runs.worker():
        await command("run", "result", alone.stdout.strip())  # the late worker runs it
        served = await command("run", "start", spec, "--wait")
    assert served.code == 0 and "warning" not in served.stderr


async def test_ctrl_c_leaves_a_watched_run_running_and_logs_follow_it_to_the_end(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    slower = {"emulator": {**SLOW_BACKEND["emulator"], "slowFactor": 40}}  # about 8 s
    spec = write_spec(tmp_path, backend=slower)
    async with runs.worker():
        workflow_id = (await command("run", "start", str(spec), "--json")).json()["workflow_id"]
        handle = get_run(command.client, workflow_id)
        watching = await command.start("run", "watch", workflow_id)
        await runs.wait_for_step(handle, 5)
        watching.send_signal(signal.SIGINT)
        _, stderr = await watching.communicate()
        still = await handle.describe()
        followed = await command("run", "logs", workflow_id, "--follow")
    assert watching.returncode == 130, stderr
    assert f"interrupted: run {workflow_id} goes on" in stderr.decode()
    assert f"`arkor-temporal run watch {workflow_id}`" in stderr.decode()
    assert still.status == WorkflowExecutionStatus.RUNNING  # Ctrl-C cancelled nothing
    lines = followed.stdout.splitlines()
    assert followed.code == 0 and lines[-1].startswith("training.completed"), lines[-3:]
    assert len(lines) == len(set(lines))  # each line once, however often it was read
    assert {f"checkpoint.saved step={s}" for s in (20, 40)} <= set(lines)
    logged = [int(m[1]) for line in lines if (m := re.match(r"step=(\d+) loss=", line))]
    assert logged[:8] == [5, 10, 15, 20, 25, 30, 35, 40]  # every logged step, in order
