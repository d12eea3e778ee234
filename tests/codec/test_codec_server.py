"""The codec server over HTTP: Temporal's remote codec protocol, the token and CORS."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from arkor_temporal.codec import ENV_KEYS, AesGcmCodec, codec_from_env, new_key
from arkor_temporal.codec.server import CodecServer
from arkor_temporal.dev.local import free_port, port_open
from tests.support.cli import CLI
from tests.support.waiting import eventually_blocking

TOKEN = "codec-test-token"
UI = "http://localhost:8233"
K1, K2 = new_key(), new_key()


def make_codec(keys: str) -> AesGcmCodec:
    codec = codec_from_env({ENV_KEYS: keys})
    assert codec is not None
    return codec


@pytest.fixture
def server() -> Iterator[CodecServer]:
    with CodecServer(make_codec(f"k1={K1}"), port=free_port(), token=TOKEN) as running:
        yield running


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def payloads_of(response: httpx.Response) -> list[Payload]:
    assert response.status_code == 200, response.text
    return list(json_format.Parse(response.text, Payloads()).payloads)


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"model":"unsloth/gemma"}')
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}


def test_encode_then_decode_round_trips(server: CodecServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        [sealed] = payloads_of(http.post("/encode", content=body(PLAIN)))
        assert b"gemma" not in sealed.SerializeToString()
        # Only the path's last part counts (an endpoint may be mounted deeper).
        assert payloads_of(http.post("/ns/default/decode", content=body(sealed))) == [PLAIN]
        assert payloads_of(http.post("/decode", content=body(PLAIN))) == [PLAIN]  # passes


def test_the_token_is_required_when_set(server: CodecServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        refused = http.post("/decode", content=body(PLAIN))
        assert refused.status_code == 401
        assert "Bearer" in refused.headers["WWW-Authenticate"]
        wrong = http.post("/decode", content=body(PLAIN), headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        assert TOKEN not in refused.text + wrong.text


def test_without_a_token_anyone_on_loopback_may_decode() -> None:
    with CodecServer(make_codec(f"k1={K1}"), port=free_port()) as open_server:
        response = httpx.post(f"{open_server.url}/decode", content=body(PLAIN))
    assert payloads_of(response) == [PLAIN]


def test_the_ui_preflight_is_answered_for_its_origin_only(server: CodecServer) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    with httpx.Client(base_url=server.url) as http:
        answer = http.options("/decode", headers=preflight)  # no token: browsers send none
        assert answer.status_code == 204
        assert answer.headers["Access-Control-Allow-Origin"] == UI
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        allowed = {
            h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {"content-type", "x-namespace", "authorization"} <= allowed
        assert "POST" in answer.headers["Access-Control-Allow-Methods"]
        # The answer itself carries the origin too, or the browser hides it from the UI.
        decoded = http.post("/decode", content=body(PLAIN), headers={**AUTH, "Origin": UI})
        assert decoded.headers["Access-Control-Allow-Origin"] == UI
        refused = http.post("/decode", content=body(PLAIN), headers={"Origin": UI})
        assert refused.status_code == 401
        assert refused.headers["Access-Control-Allow-Origin"] == UI
        other = http.options("/decode", headers={**preflight, "Origin": "http://evil.test"})
        assert other.status_code == 403
        assert "Access-Control-Allow-Origin" not in other.headers
        assert "--ui-origin" in other.json()["error"]


def test_bad_requests_say_what_is_wrong(server: CodecServer) -> None:
    foreign = make_codec(f"k9={K2}")
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        garbage = http.post("/decode", content="not json")
        assert garbage.status_code == 400
        assert "Payloads" in garbage.json()["error"]
        missing = http.post("/decode", content=body(*foreign.encrypt_all([PLAIN])))
        assert missing.status_code == 400
        assert "'k9'" in missing.json()["error"] and ENV_KEYS in missing.json()["error"]
        assert http.post("/other", content=body(PLAIN)).status_code == 404
        assert http.get("/decode").status_code == 405
        # The connection stays usable after every refusal.
        assert payloads_of(http.post("/decode", content=body(PLAIN))) == [PLAIN]


def test_the_command_needs_keys_and_serves_until_stopped() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKOR_TEMPORAL_CODEC")}
    refused = subprocess.run(
        [CLI, "codec-server"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 2
    assert ENV_KEYS in refused.stderr and "openssl rand -base64 32" in refused.stderr
    bad = subprocess.run(
        [CLI, "codec-server"],
        env={**env, ENV_KEYS: "k1=short"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and ENV_KEYS in bad.stderr and "'k1'" in bad.stderr

    port = free_port()
    served = subprocess.Popen(
        [CLI, "codec-server", "--port", str(port), "--ui-origin", "http://ui.test:8080"],
        env={**env, ENV_KEYS: f"k2={K2},k1={K1}", "ARKOR_TEMPORAL_CODEC_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually_blocking(
            lambda: port_open(port), within=30, what=f"the codec server on port {port}"
        )
        sealed = make_codec(f"k1={K1}").encrypt_all([PLAIN])
        answer = httpx.post(
            f"http://127.0.0.1:{port}/decode",
            content=body(*sealed),
            headers={"Authorization": f"Bearer {TOKEN}", "Origin": "http://ui.test:8080"},
        )
        assert payloads_of(answer) == [PLAIN]
        assert answer.headers["Access-Control-Allow-Origin"] == "http://ui.test:8080"
    finally:
        served.send_signal(signal.SIGTERM)
        _, stderr = served.communicate(timeout=30)
    assert served.returncode == 0, stderr
    assert f"--ui-codec-endpoint http://127.0.0.1:{port}" in stderr
    assert "keys k2, k1; new payloads with k2; bearer token required" in stderr
    assert TOKEN not in stderr and K1 not in stderr
