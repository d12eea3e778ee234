"""``doctor`` against the dev server: each check, its fix and the exit code; never a secret."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from pydantic import ValidationError
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from arkor_temporal.client.doctor import (
    Check,
    Polling,
    Status,
    TaskKind,
    no_worker_warning,
    queue_pollers,
    search_attributes_check,
    ui_link_check,
    unpolled_warning,
)
from arkor_temporal.core import search_attributes as sa
from tests.support.cli import Command, Completed, write_spec
from tests.support.runs import Runs
from tests.support.waiting import eventually

TOKEN = "arkor-token-never-printed-5b1e"
API_KEY = "temporal-key-never-printed-93ac"
WEBHOOK = "https://hooks.example.test/services/T0/never-printed-c4d2"


def checks_of(done: Completed) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in done.json()}


def statuses(done: Completed) -> dict[str, str]:
    return {name: check["status"] for name, check in checks_of(done).items()}


def shown(*done: Completed) -> str:
    """Everything the commands printed, on both streams."""
    return "".join(d.stdout + d.stderr for d in done)


def queue_names(task_queue: str) -> list[str]:
    return [f"pollers {task_queue}", f"pollers {task_queue}-streams", f"pollers {task_queue}-work"]


@pytest.fixture
def arkor_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arkor settings for the command to find (it inherits this process's environment)."""
    monkeypatch.setenv("ARKOR_TEMPORAL_TOKEN", TOKEN)
    monkeypatch.setenv("ARKOR_TEMPORAL_ORG", "doctor-org")
    monkeypatch.setenv("ARKOR_TEMPORAL_PROJECT", "doctor-project")


@pytest.fixture
def refused_address() -> Iterator[str]:
    """An address that refuses connections: bound for the test, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def fresh_namespace(client: Client) -> Client:
    name = f"doctor-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    return await Client.connect(client.service_client.config.target_host, namespace=name)


@pytest.mark.usefixtures("arkor_token")
async def test_all_ok_while_a_worker_polls(runs: Runs, command: Command, task_queue: str) -> None:
    client = runs.client
    async with runs.worker():
        await eventually(
            lambda: queue_pollers(client, task_queue),
            lambda polling: all(p.workers for p in polling),
            within=20,
            what="the worker to poll all its queues",
        )
        assert await no_worker_warning(client, task_queue) is None
        # A poll counts for 90 s after it began (an idle worker's lasts up to a minute).
        soon = await queue_pollers(
            client, task_queue, now=datetime.now(UTC) + timedelta(seconds=30)
        )
        assert all(p.workers for p in soon), "a live worker counts"
        later = await queue_pollers(
            client, task_queue, now=datetime.now(UTC) + timedelta(minutes=2)
        )
        assert [p.workers for p in later] == [()] * 4, "an old poll is no worker"
        done = await command("doctor", "--json")
        text = await command("doctor")
    assert done.code == 0, done.stderr
    assert statuses(done) == {
        name: "ok"
        for name in [
            "temporal",
            "namespace",
            "search attributes",
            *queue_names(task_queue),
            "arkor settings",
            "web ui links",
        ]
    }
    checks = checks_of(done)
    assert (
        "workflow and activity tasks polled by 1 worker"
        in checks[f"pollers {task_queue}"]["detail"]
    )
    assert "activity tasks polled by 1 worker" in checks[f"pollers {task_queue}-work"]["detail"]
    arkor = checks["arkor settings"]["detail"]
    assert "token from ARKOR_TEMPORAL_TOKEN, project doctor-org/doctor-project" in arkor
    assert text.code == 0 and "✓" in text.stdout and "doctor: all 8 checks passed" in text.stderr
    assert TOKEN not in shown(done, text)


async def test_no_worker_warns_naming_each_queue_and_the_fix(
    command: Command, temporal_client: Client, task_queue: str
) -> None:
    done = await command("doctor", "--json")
    text = await command("doctor")
    assert done.code == 0 and text.code == 0, "warnings only"
    checks = checks_of(done)
    start = f"arkor-temporal worker --task-queue {task_queue} --namespace default"
    for name in queue_names(task_queue):
        assert checks[name]["status"] == "warn"
        assert checks[name]["detail"].startswith("no worker polls it for ")
        assert start in checks[name]["fix"]
    assert "workflow and activity" in checks[f"pollers {task_queue}"]["detail"]
    arkor = checks["arkor settings"]
    assert arkor["status"] == "warn" and "No Arkor token found" in arkor["detail"]
    assert "where the worker runs" in arkor["fix"]
    assert "!" in text.stdout and "doctor: 4 warnings of 8 checks" in text.stderr
    assert await no_worker_warning(temporal_client, task_queue) == (
        f"no worker polls task queue {task_queue} in namespace default: the run waits until "
        f"one does; start one: {start}"
    )


async def test_a_missing_namespace_fails_with_its_fix(command: Command) -> None:
    namespace = f"no-such-{uuid.uuid4().hex[:6]}"
    done = await command("doctor", "--namespace", namespace, "--json")
    text = await command("doctor", "--namespace", namespace)
    assert done.code == 2 and text.code == 2
    assert statuses(done) == {
        "temporal": "ok",
        "namespace": "fail",
        "arkor settings": "warn",
        "web ui links": "ok",
    }, "nothing is asked of a namespace that does not exist"
    check = checks_of(done)["namespace"]
    assert repr(namespace) in check["detail"]
    assert f"temporal operator namespace create --namespace {namespace}" in check["fix"]
    assert "✗" in text.stdout and "Traceback" not in shown(done, text)


async def test_unreachable_temporal_exits_4_with_the_fix(
    command: Command, refused_address: str
) -> None:
    done = await command("doctor", "--address", refused_address, "--api-key", API_KEY, "--json")
    text = await command("doctor", "--address", refused_address)
    assert done.code == 4 and text.code == 4
    check = checks_of(done)["temporal"]
    assert (
        check["status"] == "fail"
        and f"cannot reach Temporal at {refused_address}" in (check["detail"])
    )
    assert "TEMPORAL_ADDRESS" in check["fix"] and "--api-key" in check["fix"]
    assert "arkor settings" in checks_of(done), "the local checks run all the same"
    assert API_KEY not in shown(done) and "Traceback" not in shown(done, text)


async def test_bad_tls_files_and_a_malformed_address_fail_without_a_traceback(
    command: Command, tmp_path: Path
) -> None:
    garbage = tmp_path / "client.pem"
    garbage.write_text("not a certificate")
    tls = await command("doctor", "--tls-cert", str(garbage), "--tls-key", str(garbage), "--json")
    assert tls.code == 4
    check = checks_of(tls)["temporal"]
    assert "(mTLS)" in check["detail"] and "--tls-cert/--tls-key" in check["fix"]
    malformed = await command("doctor", "--address", "localhost:99999", "--json")
    assert malformed.code == 2
    assert checks_of(malformed)["temporal address"]["status"] == "fail"
    assert "Traceback" not in shown(tls, malformed)


async def test_missing_and_mistyped_search_attributes(
    command: Command, temporal_client: Client
) -> None:
    fresh = await fresh_namespace(temporal_client)
    before = await command("doctor", "--namespace", fresh.namespace, "--json")
    assert before.code == 2
    check = checks_of(before)["search attributes"]
    assert check["status"] == "fail" and "arkor-temporal setup" in check["fix"]
    assert check["detail"] == "not registered: " + ", ".join(key.name for key in sa.ALL)
    assert (await command("setup", "--namespace", fresh.namespace)).code == 0
    after = await command("doctor", "--namespace", fresh.namespace, "--json")
    assert after.code == 0 and statuses(after)["search attributes"] == "ok"

    other = await fresh_namespace(temporal_client)
    await other.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=other.namespace,
            search_attributes={sa.STEP.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )
    mistyped = await search_attributes_check(other)
    assert mistyped.status is Status.FAIL
    assert "ArkorStep is Keyword, not Int" in mistyped.detail
    assert mistyped.fix is not None and "search-attribute remove" in mistyped.fix


async def test_spec_variables_are_checked_and_never_shown(
    command: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "arkor-token"
    token_file.write_text(TOKEN)
    monkeypatch.setenv("ARKOR_TEMPORAL_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("ARKOR_TEMPORAL_ORG", "o")
    monkeypatch.setenv("ARKOR_TEMPORAL_PROJECT", "p")
    monkeypatch.setenv("DOCTOR_SLACK_URL", WEBHOOK)
    monkeypatch.setenv("DOCTOR_HOOK_URL", "not-a-url")
    spec = write_spec(
        tmp_path,
        dataset={"type": "blob", "url": "https://data.example.test/d.jsonl", "tokenEnv": "DOC_TK"},
        notifications=[
            {"kind": "slack", "urlEnv": "DOCTOR_SLACK_URL"},
            {"kind": "webhook", "urlEnv": "DOCTOR_HOOK_URL"},
        ],
    )
    done = await command("doctor", "--spec", str(spec), "--json")
    assert done.code == 0, done.stderr
    checks = checks_of(done)
    assert checks["$DOCTOR_SLACK_URL"]["status"] == "ok"
    assert "notifications[0] (slack)" in checks["$DOCTOR_SLACK_URL"]["detail"]
    assert checks["$DOCTOR_HOOK_URL"]["status"] == "warn"
    assert "not to an http(s) URL" in checks["$DOCTOR_HOOK_URL"]["detail"]
    assert checks["$DOC_TK"]["status"] == "warn"
    assert "export DOC_TK in the worker's environment" in checks["$DOC_TK"]["fix"]
    assert "token from ARKOR_TEMPORAL_TOKEN_FILE" in checks["arkor settings"]["detail"]
    assert WEBHOOK not in shown(done) and TOKEN not in shown(done)
    missing = await command("doctor", "--spec", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and "file not found" in missing.stderr


# --- without a server ---------------------------------------------------------------------


def test_a_check_that_is_not_ok_needs_a_fix() -> None:
    with pytest.raises(ValidationError, match="has no fix"):
        Check(name="x", status=Status.WARN, detail="something is off")
    assert Check.ok("x", "fine").fix is None


def test_the_warning_names_only_the_queues_without_a_worker() -> None:
    polling = [
        Polling("q", TaskKind.WORKFLOW, ("1@host",)),
        Polling("q", TaskKind.ACTIVITY, ("1@host",)),
        Polling("q-streams", TaskKind.ACTIVITY, ("1@host",)),
        Polling("q-work", TaskKind.ACTIVITY, ()),
    ]
    assert unpolled_warning(polling, "ns", "q") == (
        "no worker polls q-work (for activity tasks) in namespace ns: the run waits until one "
        "does; start one: arkor-temporal worker --task-queue q --namespace ns"
    )
    assert unpolled_warning(polling[:3], "ns", "q") is None


@pytest.mark.parametrize(
    ("address", "env", "status", "says"),
    [
        ("localhost:7233", {}, Status.OK, "local dev server"),
        ("ns.acct.tmprl.cloud:7233", {}, Status.WARN, "notifications the worker sends link"),
        ("temporal.internal:7233", {}, Status.WARN, "is unknown"),
        ("temporal.internal:7233", {"ARKOR_TEMPORAL_UI_URL": "ui.internal"}, Status.WARN, "not"),
        ("x:1", {"ARKOR_TEMPORAL_UI_URL": "https://ui.internal"}, Status.OK, "ui.internal"),
    ],
)
def test_web_ui_links(address: str, env: dict[str, str], status: Status, says: str) -> None:
    check = ui_link_check(address, env)
    assert check.status is status and says in check.detail
