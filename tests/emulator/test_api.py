"""Version gate, auth and scope, identity routes, job creation and deprecation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from arkor_temporal.emulator import EmulatorConfig, EmulatorServer
from arkor_temporal.emulator.__main__ import parse_args
from arkor_temporal.emulator.config import GlobalSettings
from tests.support.emulator import CLIENT, MODEL, api, create_job, fast_config, job_config


@pytest.mark.parametrize(
    ("header", "reason"), [(None, "missing"), ("curl/8.0", "malformed"), ("arkor/", "malformed")]
)
def test_version_gate_answers_426(emu: EmulatorServer, header: str | None, reason: str) -> None:
    headers = {"Authorization": "Bearer emu-token"}
    if header is not None:
        headers["X-Arkor-Client"] = header
    for path in ("/v1/me", "/v1/auth/cli/config", "/v1/jobs?orgSlug=emu-org&projectSlug=x"):
        response = httpx.get(emu.base_url + path, headers=headers)
        assert response.status_code == 426
        assert response.json() == {
            "error": "sdk_version_unsupported",
            "currentVersion": "unknown",
            "supportedRange": "*",
            "upgrade": "npm install -g arkor@latest",
            "reason": reason,
        }


def test_auth_and_scope(emu: EmulatorServer, client: httpx.Client) -> None:
    assert api(emu.base_url, token="nope").get("/v1/jobs").json() == {"error": "unauthorized"}
    bare = httpx.get(f"{emu.base_url}/v1/me", headers={"X-Arkor-Client": CLIENT})
    assert bare.status_code == 401
    other_scope = {"orgSlug": "other-org", "projectSlug": "other-project"}
    assert api(emu.base_url, scope=other_scope).get("/v1/jobs").status_code == 403
    assert client.get("/v1/jobs", params={"orgSlug": "ghost"}).status_code == 403
    missing = client.get("/v1/jobs", params={"orgSlug": "emu-org", "projectSlug": "nope"})
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}
    other = api(emu.base_url, token="other-token", scope=other_scope)
    foreign_job = create_job(other)
    assert other.get(f"/v1/jobs/{foreign_job}").status_code == 200
    assert client.get(f"/v1/jobs/{foreign_job}").status_code == 404
    assert client.get(f"/v1/jobs/{foreign_job}/events/stream").status_code == 404
    assert client.get("/v1/jobs/unknown").json() == {"error": "not found"}


def test_identity_routes(emu: EmulatorServer, client: httpx.Client) -> None:
    bootstrap = httpx.Client(base_url=emu.base_url, headers={"X-Arkor-Client": CLIENT})
    config = bootstrap.get("/v1/auth/cli/config").json()
    assert config == {"auth0Domain": None, "clientId": None, "audience": None, "callbackPorts": []}
    assert bootstrap.post("/v1/auth/anonymous", json={"kind": "robot"}).status_code == 400
    anon = bootstrap.post("/v1/auth/anonymous", json={"kind": "cli"})
    assert anon.status_code == 200
    body = anon.json()
    assert body["kind"] == "cli" and body["token"] and body["anonymousId"]
    org = body["personalOrg"]
    assert org["slug"].startswith("anon-") and org["id"] and org["name"]
    me = api(emu.base_url, token=body["token"], scope={}).get("/v1/me").json()
    assert me["orgs"] == [org] and me["user"]["email"] is None
    projects = api(emu.base_url, token=body["token"], scope={"orgSlug": org["slug"]})
    created = projects.post("/v1/projects", json={"name": "demo", "slug": "demo"})
    assert created.status_code == 201
    project = created.json()["project"]
    assert project["slug"] == "demo" and project["orgId"] == org["id"]
    duplicate = projects.post("/v1/projects", json={"name": "demo", "slug": "demo"})
    assert duplicate.status_code == 409 and "error" in duplicate.json()
    listing = projects.get("/v1/projects").json()
    assert listing["org"] == org and listing["projects"] == [project]
    assert client.get("/v1/projects", params={"orgSlug": org["slug"]}).status_code == 403
    emu_me = client.get("/v1/me", params={}).json()
    assert [o["slug"] for o in emu_me["orgs"]] == ["emu-org"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "JSON"),
        (b'{"name":"r"}', "config"),
        (b'{"name":"r","config":[]}', "config"),
        (b'{"name":"r","config":{"datasetSource":{}}}', "model"),
        (b'{"name":"r","config":{"model":"unsloth/gemma-4-E4B-it"}}', "datasetSource"),
        (b'{"name":"r","config":{"model":"gpt-2","datasetSource":{}}}', MODEL),
        (
            b'{"name":"r","config":{"model":"unsloth/gemma-4-E4B-it","datasetSource":{},'
            b'"maxSteps":"many"}}',
            "maxSteps",
        ),
        (
            b'{"name":"r","config":{"model":"unsloth/gemma-4-E4B-it","datasetSource":{},'
            b'"emulator":{"faults":{"noSuchFault":1}}}}',
            "emulator",
        ),
    ],
)
def test_create_job_validation_is_400(client: httpx.Client, body: bytes, fragment: str) -> None:
    response = client.post("/v1/jobs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_create_job_echoes_unknown_keys_and_lists_in_order(client: httpx.Client) -> None:
    config = job_config(loraR=16, somethingNew={"x": 1}, arkorTemporal={"marker": "m-1"})
    created = client.post("/v1/jobs", json={"name": "echo", "config": config})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    job = created.json()["job"]
    assert job["config"] == config and job["status"] == "queued"
    assert job["startedAt"] is None and job["completedAt"] is None and job["error"] is None
    assert {"id", "orgId", "projectId", "name", "createdAt"} <= job.keys()
    second = create_job(client)
    ids = [j["id"] for j in client.get("/v1/jobs").json()["jobs"]]
    assert ids.index(job["id"]) < ids.index(second)


def post_twice(client: httpx.Client, marker: str, key: str) -> list[httpx.Response]:
    body = {"name": marker, "config": job_config(arkorTemporal={"marker": marker})}
    return [client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key}) for _ in "12"]


def attempts_with_key(base_url: str, key: str) -> list[dict[str, Any]]:
    attempts = httpx.get(f"{base_url}/_emulator/create-attempts").json()["attempts"]
    return [a for a in attempts if a["idempotencyKey"] == key]


def test_idempotency_key_is_ignored_like_the_real_cloud(
    client: httpx.Client, emu: EmulatorServer
) -> None:
    first, second = post_twice(client, "idem-ignored", "key-ignored")
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    ids = [first.json()["job"]["id"], second.json()["job"]["id"]]
    assert ids[0] != ids[1], "docs/protocol.md §2.5: two POSTs make two jobs"
    summaries = httpx.get(f"{emu.base_url}/_emulator/jobs").json()["jobs"]
    mine = [j for j in summaries if j["marker"] == "idem-ignored"]
    assert [(j["id"], j["idempotencyKey"], j["createdCount"]) for j in mine] == [
        (ids[0], "key-ignored", 1),
        (ids[1], "key-ignored", 1),
    ]
    attempts = attempts_with_key(emu.base_url, "key-ignored")
    assert [(a["jobId"], a["created"], a["marker"]) for a in attempts] == [
        (ids[0], True, "idem-ignored"),
        (ids[1], True, "idem-ignored"),
    ]


def assert_same_job(base_url: str, responses: list[httpx.Response], key: str) -> None:
    first, second = responses
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    job_id = first.json()["job"]["id"]
    assert second.json()["job"]["id"] == job_id
    summary = next(
        j for j in httpx.get(f"{base_url}/_emulator/jobs").json()["jobs"] if j["id"] == job_id
    )
    assert summary["idempotencyKey"] == key and summary["createdCount"] == 2
    assert [(a["jobId"], a["created"]) for a in attempts_with_key(base_url, key)] == [
        (job_id, True),
        (job_id, False),
    ]


def test_honoured_idempotency_key_from_the_config() -> None:
    config = fast_config(settings=GlobalSettings(honour_idempotency_key=True))
    with EmulatorServer(config) as server:
        assert_same_job(server.base_url, post_twice(api(server.base_url), "idem", "k"), "k")


def test_settings_switch_at_run_time() -> None:
    with EmulatorServer(fast_config()) as server:
        client, inspect = api(server.base_url), httpx.Client(base_url=server.base_url)
        defaults = {
            "logging": "huggingface",
            "honourIdempotencyKey": False,
            "rejectBareStepNumbers": False,
        }
        assert inspect.get("/_emulator/settings").json() == {"settings": defaults}
        switched = inspect.post("/_emulator/settings", json={"honourIdempotencyKey": True})
        assert switched.json() == {"settings": {**defaults, "honourIdempotencyKey": True}}
        assert_same_job(server.base_url, post_twice(client, "idem", "k"), "k")
        assert inspect.post("/_emulator/settings", json={"logging": "nope"}).status_code == 400
        assert inspect.post("/_emulator/settings", json={"bogus": 1}).status_code == 400
        inspect.post("/_emulator/reset")
        assert inspect.get("/_emulator/settings").json() == {"settings": defaults}


@pytest.fixture(scope="module")
def deprecated() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(deprecation=True, client_version_range=r"^arkor/0\.0\.3")
    with EmulatorServer(config) as server:
        yield server


def test_deprecation_headers_on_every_response(deprecated: EmulatorServer) -> None:
    responses = [
        api(deprecated.base_url).get("/v1/me"),
        api(deprecated.base_url, token="bad").get("/v1/me"),
        httpx.get(f"{deprecated.base_url}/v1/me"),
    ]
    assert [r.status_code for r in responses] == [200, 401, 426]
    for response in responses:
        assert response.headers["Deprecation"] == "true"
        assert response.headers["Warning"] == (
            '299 - "Arkor SDK protocol 0.0.3-alpha.1 is deprecated"'
        )
        assert response.headers["Sunset"] == "Wed, 01 Jul 2026 00:00:00 GMT"


def test_version_outside_the_supported_range(deprecated: EmulatorServer) -> None:
    response = httpx.get(f"{deprecated.base_url}/v1/me", headers={"X-Arkor-Client": "arkor/9.9.9"})
    assert response.status_code == 426
    body = response.json()
    assert body["currentVersion"] == "9.9.9" and "reason" not in body


def test_cli_arguments() -> None:
    config = parse_args(
        ["--port", "9000", "--fault", "serverErrorRate=0.3", "--fault", "postCancel=failed"]
    )
    assert config.port == 9000 and config.steps_per_second == 2.0
    assert config.faults.server_error_rate == 0.3 and config.faults.post_cancel == "failed"
    assert config.settings == GlobalSettings()
    eased = parse_args(["--logging", "combined", "--honour-idempotency-key"])
    assert eased.settings == GlobalSettings(logging="combined", honour_idempotency_key=True)
    with pytest.raises(SystemExit):
        parse_args(["--fault", "bogus=1"])
    with pytest.raises(SystemExit):
        parse_args(["--logging", "verbose"])
