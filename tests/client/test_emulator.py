"""The client and follower against the real emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from arkor_cloud import (
    ApiStatusError,
    ArkorClient,
    ChatRequest,
    CheckpointSaved,
    ClientSettings,
    EventFollower,
    JobStatus,
    PermanentApiError,
    ReconnectPolicy,
    StreamEvent,
    TrainingCompleted,
    TrainingFailed,
    TrainingLog,
    TrainingStarted,
    TransientApiError,
    UnsupportedClientError,
    bootstrap_anonymous,
)
from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.emulator.simulation import GPU_NAME

MODEL = "unsloth/gemma-4-E4B-it"
FAST = ReconnectPolicy(base_delay=0.02, max_delay=0.2, max_attempts=20, idle_timeout=2.0)


def config(steps: int = 40, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "datasetSource": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "maxSteps": steps,
        "loggingSteps": 1,
        "saveSteps": 10,
        **extra,
    }


def faulty(steps: int = 40, **faults: Any) -> dict[str, Any]:
    return config(steps, emulator={"faults": faults})


async def follow(
    client: ArkorClient, job_id: str, **kwargs: Any
) -> tuple[list[StreamEvent], EventFollower]:
    follower = EventFollower(client, job_id, policy=FAST, **kwargs)
    events = [event async for event in follower]
    return events, follower


def assert_complete_run(events: list[StreamEvent], steps: int) -> None:
    """Every step logged exactly once, in order, then the Trainer's summary at the last step;
    started first, completed last."""
    logs = [e for e in events if isinstance(e, TrainingLog)]
    assert [log.step for log in logs] == [*range(1, steps + 1), steps]
    summary = logs[-1]
    assert summary.loss is not None and summary.learning_rate is None
    assert isinstance(events[0], TrainingStarted)
    assert isinstance(events[-1], TrainingCompleted)
    ids = [e.event_id for e in events if e.type != "training.paused"]
    assert len(ids) == len(set(ids))


async def test_full_run_every_step_once(emu_settings: ClientSettings) -> None:
    async with ArkorClient(emu_settings) as client:
        job = await client.create_job("full", config())
        assert job.status is JobStatus.QUEUED
        events, follower = await follow(client, job.id)
        assert_complete_run(events, 40)
        assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [10, 20, 30, 40]
        assert follower.opens == 1 and follower.final_job is None
        assert (await client.get_job(job.id)).status is JobStatus.COMPLETED
        assert job.id in [j.id for j in await client.list_jobs()]


@pytest.mark.parametrize(
    "faults",
    [
        {"dropAfterFrames": 5},
        {"streamNotFoundFirst": 2},
        {"emptyStreamFirst": 2},
        {"pingOnlyFirst": 2},
        {"malformedFrames": True},
        {"endWhileRunningAfter": 3},
    ],
    ids=lambda f: next(iter(f)),
)
async def test_stream_faults_lose_and_repeat_nothing(
    emu_settings: ClientSettings, faults: dict[str, Any]
) -> None:
    async with ArkorClient(emu_settings) as client:
        job = await client.create_job("faulty", faulty(**faults))
        events, follower = await follow(client, job.id)
    assert_complete_run(events, 40)
    assert follower.opens > 1 or "malformedFrames" in faults


@pytest.mark.parametrize("variant", ["end", "failed", "unknown"])
async def test_follower_ends_after_cancel(emu_settings: ClientSettings, variant: str) -> None:
    async with ArkorClient(emu_settings) as client:
        job = await client.create_job("cancel-me", faulty(steps=100_000, postCancel=variant))
        follower = EventFollower(client, job.id, policy=FAST)
        events: list[StreamEvent] = []
        async for event in follower:
            events.append(event)
            if isinstance(event, TrainingLog) and event.step == 3:
                await client.cancel_job(job.id)
        with pytest.raises(TransientApiError) as info:
            await client.cancel_job(job.id)
    assert info.value.status == 409
    if variant == "failed":
        assert isinstance(events[-1], TrainingFailed) and follower.final_job is None
    else:
        assert follower.final_job is not None
        assert follower.final_job.status is JobStatus.CANCELLED


async def test_chat_with_the_final_adapter(emu_settings: ClientSettings) -> None:
    async with ArkorClient(emu_settings) as client:
        job = await client.create_job("chatty", config(steps=5))
        await follow(client, job.id)
        request = ChatRequest(
            messages=[{"role": "user", "content": "hello"}],
            adapter={"kind": "final", "job_id": job.id},
            max_tokens=16,
        )
        completion = await client.chat(request)
        text = completion.choices[0].message.content
        assert isinstance(text, str) and text
        chunks = [chunk async for chunk in client.chat_stream(request)]
        streamed = "".join(c.choices[0].delta.get("content") or "" for c in chunks if c.choices)
        assert streamed == text


async def test_idempotency_key_is_sent_and_ignored_like_the_real_cloud(
    emu: EmulatorServer, emu_settings: ClientSettings
) -> None:
    async with ArkorClient(emu_settings) as client:
        first = await client.create_job("once", config(steps=5), idempotency_key="run-1")
        second = await client.create_job("once", config(steps=5), idempotency_key="run-1")
    assert first.id != second.id
    async with httpx.AsyncClient(base_url=emu.base_url) as inspect:
        attempts = (await inspect.get("/_emulator/create-attempts")).json()["attempts"]
    keyed = [a["jobId"] for a in attempts if a["idempotencyKey"] == "run-1"]
    assert keyed == [first.id, second.id]


@pytest.mark.parametrize(
    "framing",
    [
        None,  # the hostile default
        "plain",
        {"lineEnding": "cr"},
        {"lineEnding": "lf", "splitWrites": False},
        # The BOM right before the first frame's `id:` line, which httpx-sse misreads.
        {"comments": False, "retry": False},
    ],
    ids=["default", "plain", "cr", "lf", "bom-before-id"],
)
async def test_every_framing_delivers_each_event_once_with_its_id(
    emu: EmulatorServer, emu_settings: ClientSettings, framing: Any
) -> None:
    switches: dict[str, Any] = {"faults": {"dropMidFrame": 2, "dropAfterFrames": 9}}
    if framing is not None:
        switches["framing"] = framing
    async with ArkorClient(emu_settings) as client:
        job = await client.create_job("framed", config(30, evalSteps=10, emulator=switches))
        events, follower = await follow(client, job.id)
    async with httpx.AsyncClient(base_url=emu.base_url) as inspect:
        stored = (await inspect.get(f"/_emulator/jobs/{job.id}/events")).json()["events"]
    assert [(e.event_id, e.type) for e in events] == [(e["id"], e["type"]) for e in stored]
    assert follower.opens > 3
    started = events[0]
    assert isinstance(started, TrainingStarted) and started.metadata["gpuName"] == GPU_NAME


async def test_identity_and_project_routes(emu_settings: ClientSettings) -> None:
    async with ArkorClient(emu_settings) as client:
        anonymous = await client.request_anonymous_token()
        assert anonymous.personal_org.slug and anonymous.kind == "cli"
        cli = await client.get_cli_config()
        assert cli.auth0_domain is None and cli.callback_ports == []
        me = await client.me()
        assert emu_settings.org_slug in [o.slug for o in me.orgs]
        created = await client.create_project("Demo", "demo-routes")
        assert created.slug == "demo-routes"
        assert "demo-routes" in [p.slug for p in await client.list_projects()]
        with pytest.raises(ApiStatusError) as info:
            await client.create_project("Demo", "demo-routes")
        assert info.value.status == 409


async def test_error_classes(emu_settings: ClientSettings) -> None:
    def variant(**changes: Any) -> ArkorClient:
        return ArkorClient(emu_settings.model_copy(update=changes))

    async with variant(token=SecretStr("nobody")) as client:
        with pytest.raises(PermanentApiError) as info:
            await client.list_jobs()
        assert info.value.status == 401 and "nobody" not in str(info.value)
    async with variant(org_slug="other-org", project_slug="other-project") as client:
        with pytest.raises(PermanentApiError) as info:
            await client.list_jobs()
        assert info.value.status == 403
    async with variant(client_version="x y") as client:
        with pytest.raises(UnsupportedClientError) as info:
            await client.list_jobs()
        assert info.value.status == 426 and "malformed" in info.value.message
    async with ArkorClient(emu_settings) as client:
        with pytest.raises(TransientApiError) as info:
            await client.get_job("no-such-job")
        assert info.value.status == 404 and info.value.message == "not found"
        with pytest.raises(TransientApiError) as info:
            await client.create_job("bad", {"datasetSource": {"type": "huggingface", "name": "x"}})
        assert info.value.status == 400 and "model" in info.value.message
        job = await client.create_job("done", config(steps=3))
        await follow(client, job.id)
        with pytest.raises(TransientApiError) as info:
            await client.cancel_job(job.id)
        assert info.value.status == 409 and info.value.message
    # the stream open also classifies: an unknown token is permanent for the follower
    async with variant(token=SecretStr("nobody")) as client:
        with pytest.raises(PermanentApiError):
            await follow(client, job.id)


async def test_bootstrap_anonymous_writes_files_and_reuses_them(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "My Project!"
    home.mkdir()
    cwd.mkdir()
    settings = await bootstrap_anonymous(emu.base_url, cwd, home=home)
    creds_path = home / ".arkor" / "credentials.json"
    state_path = cwd / ".arkor" / "state.json"
    creds = json.loads(creds_path.read_text())
    assert creds["mode"] == "anon" and creds["arkorCloudApiUrl"] == emu.base_url
    assert creds_path.stat().st_mode & 0o777 == 0o600
    state_text = state_path.read_text()
    state = json.loads(state_text)
    assert state_text == json.dumps(state, indent=2) + "\n"
    assert state["projectSlug"] == "my-project" and state["orgSlug"] == creds["orgSlug"]
    assert settings.token.get_secret_value() == creds["token"]
    assert creds["token"] not in repr(settings)
    # The resolver now finds the same settings without any environment.
    resolved = ClientSettings.resolve(env={}, home=home, cwd=cwd)
    assert resolved == settings
    # Lost state with the project still there: 409, then the existing project is reused.
    state_path.unlink()
    again = await bootstrap_anonymous(emu.base_url, cwd, home=home)
    assert again == settings and json.loads(state_path.read_text()) == state
    async with ArkorClient(again) as client:
        assert await client.list_jobs() == []


async def test_concurrent_followers_share_one_client(emu_settings: ClientSettings) -> None:
    async with ArkorClient(emu_settings) as client:
        jobs = [
            await client.create_job(f"par-{i}", faulty(20, dropAfterFrames=7)) for i in range(3)
        ]
        results = await asyncio.gather(*(follow(client, j.id) for j in jobs))
    for events, _ in results:
        assert_complete_run(events, 20)
