"""The CLI conveniences: version, Web UI links, `run open`, `run metrics`, `run evals`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from arkor_temporal.client.links import run_link, web_ui_base
from tests.support.cli import Command, write_spec
from tests.support.evals import triage_cases
from tests.support.runs import Runs


async def test_version(command: Command) -> None:
    shown = await command("--version")
    assert shown.code == 0 and shown.stdout.startswith("arkor-temporal, version ")


def test_web_ui_links_for_local_cloud_and_configured_servers() -> None:
    assert web_ui_base("localhost:7233", {}) == "http://localhost:8233"
    assert web_ui_base("127.0.0.1:17233", {}) == "http://localhost:18233"
    assert web_ui_base("ns.acct.tmprl.cloud:7233", {}) == "https://cloud.temporal.io"
    assert web_ui_base("temporal.internal:7233", {}) is None
    configured = {"ARKOR_TEMPORAL_UI_URL": "https://ui.example.com/"}
    assert web_ui_base("temporal.internal:7233", configured) == "https://ui.example.com"
    assert (
        run_link("localhost:7233", "my ns", "train-a/b", {})
        == "http://localhost:8233/namespaces/my%20ns/workflows/train-a%2Fb"
    )


async def test_start_status_and_open_give_the_web_ui_link_and_records_read_back(
    runs: Runs, command: Command, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, maxSteps=40, saveSteps=20, evals={"cases": triage_cases()[:2]})
    async with runs.worker():
        started = await command("run", "start", str(spec), "--json")
        assert started.code == 0, started.stderr
        data = started.json()
        workflow_id = data["workflow_id"]
        address = runs.client.service_client.config.target_host
        link = run_link(address, runs.client.namespace, workflow_id, {})
        assert link is not None and data["web_ui"] == link
        human = await command("run", "status", workflow_id)
        assert f"Web UI: {link}" in human.stderr
        opened = await command("run", "open", workflow_id, "--print")
        assert (opened.code, opened.stdout.strip()) == (0, link)
        result = await command("run", "result", workflow_id, "--json")
        assert result.json()["status"] == "completed"

    # Read back from the result once the run has ended (no worker needed any more).
    metrics = await command("run", "metrics", workflow_id, "--csv")
    rows = list(csv.DictReader(io.StringIO(metrics.stdout)))
    assert (
        metrics.code == 0
        and rows
        and list(rows[0])
        == [
            "step",
            "loss",
            "eval_loss",
            "learning_rate",
        ]
    )
    assert [int(r["step"]) for r in rows] == sorted(int(r["step"]) for r in rows)
    assert float(rows[-1]["loss"]) > 0
    as_json = (await command("run", "metrics", workflow_id, "--json")).json()
    assert [p["step"] for p in as_json] == [int(r["step"]) for r in rows]

    evals = await command("run", "evals", workflow_id)
    assert evals.code == 0, evals.stderr
    case_names = [case["name"] for case in triage_cases()[:2]]
    assert all(name in evals.stdout for name in case_names)
    assert "step 20" in evals.stdout and "step 40" in evals.stdout
    assert "pass" in evals.stdout or "fail" in evals.stdout
    evals_json = (await command("run", "evals", workflow_id, "--json")).json()
    assert [e["step"] for e in evals_json] == [20, 40]
    assert {c["name"] for c in evals_json[0]["cases"]} == set(case_names)


async def test_open_without_a_known_web_ui_names_the_variable(command: Command) -> None:
    shown = await command(
        "run", "open", "some-run", "--print", "--address", "temporal.internal:7233"
    )
    assert shown.code == 2 and "ARKOR_TEMPORAL_UI_URL" in shown.stderr
