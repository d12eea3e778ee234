"""Runs with encryption on, end to end: a worker, the Python API, the CLI and the codec server.

The session's ``temporal_client`` has no codec: it sees what Temporal stores.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads, SearchAttributes, WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.client import TemporalSettings, describe_run, get_run, wait_for_result
from arkor_temporal.codec import (
    ENCODING,
    ENV_KEYS,
    KEY_ID_METADATA,
    MissingKeyError,
    codec_from_env,
    new_key,
)
from arkor_temporal.codec.server import CodecServer
from arkor_temporal.core.models import RunStatus
from arkor_temporal.dev.local import free_port, temporal_binary
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.workflows.training_run import (
    STOPPED_TAIL_PATCH,
    STREAM_POSITION_PATCH,
    SUMMARY_LOG_PATCH,
)
from tests.support.cli import DISK_FULL_BACKEND, Command
from tests.support.runs import MODEL, Runs, make_spec
from tests.support.waiting import eventually

K1, K2 = new_key(), new_key()
PATCH_MARKER = "core_patch"
PATCH_IDS = {STOPPED_TAIL_PATCH, STREAM_POSITION_PATCH, SUMMARY_LOG_PATCH}
TOKEN = "e2e-codec-token"
UI = "http://localhost:8233"


async def connect(temporal_client: Client, keys: str) -> Client:
    """A client like the worker's, the CLI's and the API's with these keys in the environment."""
    settings = TemporalSettings.resolve(
        address=temporal_client.service_client.config.target_host,
        namespace=temporal_client.namespace,
        env={ENV_KEYS: keys},
    )
    assert settings.codec is not None
    return await settings.connect()


def walk(message: Message) -> Iterator[Message]:
    """Every message inside ``message``, depth first, except search attributes (plaintext)."""
    if isinstance(message, SearchAttributes):
        return
    yield message
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None:
            continue
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].message_type is not None:
                for item in value.values():
                    yield from walk(item)
        elif field.is_repeated:
            for item in value:
                yield from walk(item)
        else:
            yield from walk(value)


async def stored_history(temporal_client: Client, workflow_id: str) -> list[HistoryEvent]:
    return list((await temporal_client.get_workflow_handle(workflow_id).fetch_history()).events)


def assert_no_plaintext(events: list[HistoryEvent], key_id: str, markers: list[str]) -> int:
    """Every payload encrypted with ``key_id``, no marker in any payload or failure message.

    Patch markers (``workflow.patched``) are the exception: the SDK's core writes them
    itself, and they hold the patch id only. Returns the number of failures seen.
    """
    payloads = [
        message
        for event in events
        if event.marker_recorded_event_attributes.marker_name != PATCH_MARKER
        for message in walk(event)
        if isinstance(message, Payload)
    ]
    assert len(payloads) > 10, "a run's history carries input, signals, results, summaries"
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCODING, payload
        assert payload.metadata[KEY_ID_METADATA] == key_id.encode()
        wire = payload.SerializeToString()
        for marker in markers:
            assert marker.encode() not in wire, f"{marker!r} in plaintext"
    for event in events:
        if event.marker_recorded_event_attributes.marker_name == PATCH_MARKER:
            details = event.marker_recorded_event_attributes.details
            assert set(details) == {"patch-data"}
            [patch] = details["patch-data"].payloads
            assert json.loads(patch.data)["id"] in PATCH_IDS
    failures = [m for e in events for m in walk(e) if isinstance(m, Failure)]
    for failure in failures:
        assert failure.message == "Encoded failure" and not failure.stack_trace
    return len(failures)


def search_attribute_text(events: list[HistoryEvent]) -> bytes:
    return b"".join(
        payload.data
        for event in events
        for message in [event.workflow_execution_started_event_attributes.search_attributes]
        for payload in message.indexed_fields.values()
    )


async def test_an_encrypted_run_stores_no_plaintext_and_is_read_through_the_codec(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    emulator_server: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encrypted = Runs(
        await connect(temporal_client, f"k1={K1}"), cloud_context, task_queue, emulator_server
    )
    name = f"secret-{uuid.uuid4().hex[:6]}"
    spec = make_spec(name=name, maxSteps=200)
    async with encrypted.worker():
        handle = await encrypted.start(spec)
        await encrypted.wait_for_step(handle, 10)
        # The current details travel as a query answer: encrypted by the worker too.
        answer = await temporal_client.workflow_service.query_workflow(
            QueryWorkflowRequest(
                namespace=temporal_client.namespace,
                execution=WorkflowExecution(workflow_id=handle.id),
                query=WorkflowQuery(query_type="__temporal_workflow_metadata"),
            )
        )
        [metadata] = answer.query_result.payloads
        assert metadata.metadata["encoding"] == ENCODING and name.encode() not in metadata.data

        # So is the live progress in the stream's heartbeat details.
        async def heartbeat_details() -> list[Payload]:
            described = await temporal_client.get_workflow_handle(handle.id).describe()
            pending = described.raw_description.pending_activities
            return [p for activity in pending for p in activity.heartbeat_details.payloads]

        beats = await eventually(heartbeat_details, within=20, what="the stream's heartbeat")
        assert all(p.metadata["encoding"] == ENCODING for p in beats)
        result = await handle.result()
    assert result.status == RunStatus.COMPLETED and result.run_name == name

    events = await stored_history(temporal_client, handle.id)
    assert_no_plaintext(events, "k1", [MODEL, name, "loss"])
    # User metadata goes through the codec too: the static summary and details, and the
    # summary of every activity.
    started = events[0].workflow_execution_started_event_attributes
    assert events[0].user_metadata.summary.metadata["encoding"] == ENCODING
    assert events[0].user_metadata.details.metadata["encoding"] == ENCODING
    scheduled = [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]
    assert scheduled and all(
        e.user_metadata.summary.metadata["encoding"] == ENCODING for e in scheduled
    )
    # Search attributes are not payloads of the run: Temporal indexes them in plaintext.
    assert MODEL.encode() in search_attribute_text(events)
    assert name.encode() in search_attribute_text(events)

    # The Python API reads it all back, static summary included.
    info = await describe_run(get_run(encrypted.client, handle.id))
    assert info.summary == f"Fine-tune {name} on {MODEL}, 200 steps"
    assert info.result == result

    # So does the CLI, with the same keys in its environment.
    monkeypatch.setenv(ENV_KEYS, f"k1={K1}")
    command = Command(temporal_client, task_queue)
    status = await command("run", "status", handle.id, "--json")
    assert status.code == 0, status.stderr
    assert status.json()["summary"] == info.summary
    assert status.json()["result"]["run_name"] == name
    printed = await command("run", "result", handle.id, "--json")
    assert printed.code == 0, printed.stderr
    assert printed.json()["status"] == "completed"

    # The codec server decodes the run's input, fetched from the stored history.
    stored_input = json_format.MessageToJson(started.input)
    # It reads the keys the way the worker does: from its own environment.
    codec = codec_from_env({ENV_KEYS: f"k1={K1}"})
    assert codec is not None
    with CodecServer(codec, port=free_port(), token=TOKEN) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            decoded = await http.post(
                "/decode",
                content=stored_input,
                headers={"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"},
            )
            assert decoded.status_code == 200, decoded.text
            [plain] = json_format.Parse(decoded.text, Payloads()).payloads
            assert plain.metadata["encoding"] == b"json/plain"
            assert MODEL.encode() in plain.data and name.encode() in plain.data

            refused = await http.post("/decode", content=stored_input)
            assert refused.status_code == 401

            preflight = await http.options(
                "/decode",
                headers={
                    "Origin": UI,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
                },
            )
            assert preflight.status_code == 204
            assert preflight.headers["Access-Control-Allow-Origin"] == UI
            assert "x-namespace" in preflight.headers["Access-Control-Allow-Headers"].lower()

        # The `temporal` CLI speaks the same protocol (Go's protobuf JSON).
        shown = await asyncio.create_subprocess_exec(
            temporal_binary(),
            "workflow",
            "describe",
            "--workflow-id",
            handle.id,
            "--address",
            temporal_client.service_client.config.target_host,
            "--namespace",
            temporal_client.namespace,
            "--codec-endpoint",
            server.url,
            "--codec-auth",
            f"Bearer {TOKEN}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(shown.communicate(), timeout=60)
        assert shown.returncode == 0, err.decode()
        assert f'StaticSummary  "{info.summary}"' in out.decode()


async def test_after_a_rotation_old_runs_still_decode_and_new_ones_use_the_new_key(
    temporal_client: Client,
    cloud_context: CloudContext,
    task_queue: str,
    emulator_server: EmulatorServer,
) -> None:
    before = Runs(
        await connect(temporal_client, f"k1={K1}"), cloud_context, task_queue, emulator_server
    )
    old_handle, old_result = await before.run_to_end(make_spec(name="before-rotation", maxSteps=20))

    # The new key goes first (current); the old one stays listed for the runs it wrote.
    after = Runs(
        await connect(temporal_client, f"k2={K2},k1={K1}"),
        cloud_context,
        task_queue,
        emulator_server,
    )
    assert await wait_for_result(get_run(after.client, old_handle.id)) == old_result

    # A failing run: its failure message ("disk full") is encrypted as well.
    new_handle, failure, new_result = await after.run_to_failure(
        make_spec(name="after-rotation", maxSteps=20, backend=DISK_FULL_BACKEND)
    )
    assert new_result.status == RunStatus.FAILED and "disk full" in new_result.reason
    assert "disk full" in str(failure.cause)
    events = await stored_history(temporal_client, new_handle.id)
    failures = assert_no_plaintext(events, "k2", [MODEL, "after-rotation", "disk full", "loss"])
    assert failures > 0

    # A process without the new key says which key it lacks and where to add it.
    with pytest.raises(MissingKeyError) as missing:
        await wait_for_result(get_run(before.client, new_handle.id))
    assert "'k2'" in str(missing.value) and ENV_KEYS in str(missing.value)
