"""`ArkorClient`: request shape, error classification, decoding (docs/protocol.md §1, §2, §5)."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from arkor_cloud import (
    ApiStatusError,
    ArkorClient,
    BlobDataset,
    ChatRequest,
    DeprecationNotice,
    HuggingFaceDataset,
    JobConfig,
    JobStatus,
    PermanentApiError,
    ResponseDecodeError,
    TransientApiError,
    TransportError,
    UnsupportedClientError,
    is_transient,
)
from tests.support.scripted import SETTINGS, TOKEN, job, responder


def reply(status: int, body: object = None, **headers: str) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


async def test_job_routes_send_scope_identity_and_encoded_ids() -> None:
    client, seen = responder(lambda r: reply(200, {"job": job()}))
    async with client:
        await client.get_job("a/b c")
    request = seen[0]
    assert request.url.raw_path == b"/v1/jobs/a%2Fb%20c?orgSlug=org&projectSlug=proj"
    assert request.headers["x-arkor-client"] == "arkor/0.0.3-alpha.1"
    assert request.headers["user-agent"].startswith("arkor-temporal/")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_create_job_sends_wire_config_and_idempotency_key() -> None:
    client, seen = responder(lambda r: reply(201, {"job": job("queued", provider="runpod")}))
    config = JobConfig(
        model="unsloth/gemma-4-E4B-it",
        dataset_source=BlobDataset(url="https://x/d.jsonl", token=SecretStr("blob-secret")),
        load_in4bit=True,
        max_steps=10,
        emulator={"faults": {"dropAfterFrames": 5}},
    )
    async with client:
        created = await client.create_job("run", config, idempotency_key="k1")
    body = json.loads(seen[0].content)
    assert body == {
        "name": "run",
        "config": {
            "model": "unsloth/gemma-4-E4B-it",
            "datasetSource": {"type": "blob", "url": "https://x/d.jsonl", "token": "blob-secret"},
            "loadIn4bit": True,
            "maxSteps": 10,
            "emulator": {"faults": {"dropAfterFrames": 5}},
        },
    }
    assert seen[0].headers["idempotency-key"] == "k1"
    assert created.status is JobStatus.QUEUED and created.model_extra == {"provider": "runpod"}
    # Off the wire the dataset token stays masked.
    assert "blob-secret" not in repr(config) + config.model_dump_json()


async def test_mapping_config_is_sent_as_given_and_no_key_header_without_key() -> None:
    client, seen = responder(lambda r: reply(201, {"job": job("queued")}))
    async with client:
        await client.create_job("run", {"model": "m", "arkorTemporal": {"run": "r1"}})
    assert json.loads(seen[0].content)["config"] == {"model": "m", "arkorTemporal": {"run": "r1"}}
    assert "idempotency-key" not in seen[0].headers


async def test_echoed_dataset_token_is_masked_in_the_decoded_job() -> None:
    echoed = job(
        config={"model": "m", "datasetSource": {"type": "blob", "url": "u", "token": "t0k"}}
    )
    client, _ = responder(lambda r: reply(200, {"job": echoed}))
    async with client:
        got = await client.get_job("j1")
    assert "t0k" not in repr(got) + got.model_dump_json()


async def test_list_and_cancel() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancel"):
            return reply(200, {"ok": True})
        return reply(200, {"jobs": [job(), job("completed", id="j2")]})

    client, seen = responder(answer)
    async with client:
        jobs = await client.list_jobs()
        assert await client.cancel_job("j1") is None
    assert [j.status.is_terminal for j in jobs] == [False, True]
    assert seen[1].method == "POST" and seen[1].content == b""


@pytest.mark.parametrize(
    ("status", "body", "message", "cls"),
    [
        (409, {"error": "already cancelled"}, "already cancelled", TransientApiError),
        (500, "upstream exploded", "upstream exploded", TransientApiError),
        (500, "", "cloud-api 500", TransientApiError),
        (404, {"error": ""}, '{"error":""}', TransientApiError),
        (403, {"error": "not a member"}, "not a member", PermanentApiError),
        (401, {"message": "nope"}, '{"message":"nope"}', PermanentApiError),
    ],
)
async def test_error_message_rules(
    status: int, body: object, message: str, cls: type[ApiStatusError]
) -> None:
    client, _ = responder(lambda r: reply(status, body))
    async with client:
        with pytest.raises(cls) as info:
            await client.cancel_job("j1")
    err = info.value
    assert (err.status, err.message, err.method, err.path) == (
        status,
        message,
        "POST",
        "/v1/jobs/j1/cancel",
    )
    assert err.is_permanent == (cls is PermanentApiError)
    assert is_transient(err) != err.is_permanent
    assert message in str(err) and "orgSlug" not in str(err)


async def test_error_body_is_truncated() -> None:
    client, _ = responder(lambda r: reply(502, "x" * 2000))
    async with client:
        with pytest.raises(TransientApiError) as info:
            await client.list_jobs()
    assert len(info.value.body) == 500


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "error": "sdk_version_unsupported",
                "currentVersion": "1.3.5",
                "supportedRange": "^1.4.0",
                "upgrade": "npm install -g arkor@latest",
            },
            ["1.3.5", "^1.4.0"],
        ),
        (
            {
                "error": "sdk_version_unsupported",
                "currentVersion": "unknown",
                "supportedRange": "*",
                "reason": "malformed",
            },
            ["X-Arkor-Client header was malformed", "unknown"],
        ),
        ("not json", ["arkor/0.0.3-alpha.1"]),
    ],
)
async def test_426_explains_the_fix(body: object, expected: list[str]) -> None:
    client, _ = responder(lambda r: reply(426, body))
    async with client:
        with pytest.raises(UnsupportedClientError) as info:
            await client.me()
    message = info.value.message
    assert "Upgrade arkor-temporal" in message and "ARKOR_TEMPORAL_CLIENT_VERSION" in message
    assert all(part in message for part in expected)
    assert info.value.is_permanent and not is_transient(info.value)


async def test_network_failure_is_a_transport_error() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client, _ = responder(fail)
    async with client:
        with pytest.raises(TransportError) as info:
            await client.list_jobs()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert is_transient(info.value)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("<html>", "not JSON"),
        ({"jobs": "nope"}, "jobs: Input should be a valid list"),
        ({"job": job("loitering")}, "status: Input should be"),
        ({}, "no 'job' member"),
    ],
)
async def test_undecodable_2xx_is_a_decode_error(body: object, fragment: str) -> None:
    client, _ = responder(lambda r: reply(200, body))
    async with client:
        with pytest.raises(ResponseDecodeError, match=fragment) as info:
            await (client.list_jobs() if "jobs" in str(body) else client.get_job("j1"))
    assert is_transient(info.value)


async def test_anonymous_token_decode_error_never_shows_the_token() -> None:
    body = {"token": "anon-secret", "anonymousId": "a", "kind": "cli", "personalOrg": {"id": 1}}
    client, seen = responder(lambda r: reply(200, body))
    async with client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.request_anonymous_token()
    assert "anon-secret" not in str(info.value) and info.value.__cause__ is None
    assert "authorization" not in seen[0].headers
    assert json.loads(seen[0].content) == {"kind": "cli"}


async def test_unauthenticated_and_identity_routes() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return {
            "/v1/auth/cli/config": reply(
                200, {"auth0Domain": None, "clientId": None, "audience": None, "callbackPorts": []}
            ),
            "/v1/me": reply(
                200, {"user": {"id": "u1"}, "orgs": [{"id": "o", "slug": "s", "name": "n"}]}
            ),
            "/v1/projects": reply(
                201 if request.method == "POST" else 200,
                {"project": {"id": "p", "slug": "s", "name": "n", "orgId": "o"}}
                if request.method == "POST"
                else {"org": {"slug": "x"}, "projects": []},
            ),
        }[request.url.path]

    client, seen = responder(answer)
    async with client:
        assert (await client.get_cli_config()).callback_ports == []
        assert (await client.me()).orgs[0].slug == "s"
        assert await client.list_projects("other") == []
        assert (await client.create_project("N", "s")).id == "p"
    assert "authorization" not in seen[0].headers
    assert seen[2].url.params["orgSlug"] == "other" and "projectSlug" not in seen[2].url.params
    assert seen[3].url.params["orgSlug"] == "org"
    assert json.loads(seen[3].content) == {"name": "N", "slug": "s"}


async def test_deprecation_surfaced_once_per_notice_even_on_errors() -> None:
    headers = {
        "Deprecation": "true",
        "Warning": '299 - "Arkor SDK 0.0.3 is deprecated"',
        "Sunset": "Wed, 01 Jul 2026 00:00:00 GMT",
    }
    statuses = iter([503, 200, 200])
    notices: list[DeprecationNotice] = []

    def answer(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        return httpx.Response(status, json={"jobs": []}, headers=headers)

    transport = httpx.MockTransport(answer)
    client = ArkorClient(SETTINGS, transport=transport, on_deprecation=notices.append)
    with capture_logs() as logs:
        async with client:
            with pytest.raises(TransientApiError):
                await client.list_jobs()
            await client.list_jobs()
            await client.list_jobs()
    assert notices == [
        DeprecationNotice(
            "Arkor SDK 0.0.3 is deprecated", "Wed, 01 Jul 2026 00:00:00 GMT", "0.0.3-alpha.1"
        )
    ]
    warnings = [e for e in logs if e["event"] == "arkor_cloud.deprecation"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Deprecation": "true"}, "Arkor SDK 0.0.3-alpha.1 is deprecated"),
        ({"Deprecation": "true", "Warning": "free text"}, "free text"),
        ({"Deprecation": "false", "Warning": '299 - "x"'}, None),
    ],
)
def test_deprecation_header_parsing(headers: dict[str, str], message: str | None) -> None:
    notice = DeprecationNotice.from_headers(httpx.Headers(headers), "0.0.3-alpha.1")
    assert (notice.message if notice else None) == message


async def test_failing_deprecation_handler_is_swallowed() -> None:
    def boom(_notice: DeprecationNotice) -> None:
        raise RuntimeError("handler bug")

    transport = httpx.MockTransport(lambda r: reply(200, {"jobs": []}, Deprecation="true"))
    with capture_logs() as logs:
        async with ArkorClient(SETTINGS, transport=transport, on_deprecation=boom) as client:
            assert await client.list_jobs() == []
    assert any(e["event"] == "arkor_cloud.deprecation_handler_failed" for e in logs)


async def test_chat_forces_stream_false_and_keeps_nested_structures() -> None:
    completion = {
        "id": "c",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
        ],
    }
    client, seen = responder(lambda r: reply(200, completion))
    request = ChatRequest(
        messages=[{"role": "user", "content": "hi", "tool_call_id": None}],
        adapter={"kind": "checkpoint", "job_id": "j7", "step": 7},
        max_tokens=5,
        stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    )
    async with client:
        result = await client.chat(request)
    assert result.choices[0].message.content == "hi"
    assert json.loads(seen[0].content) == {
        "messages": [{"role": "user", "content": "hi", "tool_call_id": None}],
        "adapter": {"kind": "checkpoint", "jobId": "j7", "step": 7},
        "maxTokens": 5,
        "stream": False,
        "responseFormat": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    }


@pytest.mark.parametrize("terminator", ["data: [DONE]\n\n", "event: end\ndata: \n\n"])
async def test_chat_stream_stops_at_done_or_end(terminator: str) -> None:
    body = (
        'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
        "event: ping\ndata: \n\n"
        "data: {broken\n\n"
        'event: token\ndata: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
        + terminator
        + 'data: {"choices":[{"delta":{"content":"never"}}]}\n\n'
    )
    client, seen = responder(
        lambda r: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    )
    async with client:
        chunks = [c async for c in client.chat_stream(ChatRequest(messages=[], base_model="m"))]
    assert [c.choices[0].delta["content"] for c in chunks] == ["Hel", "lo"]
    assert json.loads(seen[0].content)["stream"] is True


def test_job_config_aliases_and_dataset_union() -> None:
    config = JobConfig.model_validate(
        {
            "model": "m",
            "datasetSource": {"type": "huggingface", "name": "x"},
            "loadIn4bit": True,
            "unknownKey": 1,
        }
    )
    assert config.load_in4bit is True
    assert isinstance(config.dataset_source, HuggingFaceDataset)
    assert config.to_wire() == {
        "model": "m",
        "datasetSource": {"type": "huggingface", "name": "x"},
        "loadIn4bit": True,
        "unknownKey": 1,
    }
