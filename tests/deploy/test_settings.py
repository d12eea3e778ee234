"""The settings check itself: it knows what the worker reads, and it can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from arkor_temporal.client.connection import TemporalSettings
from tests.deploy.settings import (
    TEMPORAL_ENVCONFIG,
    DeploySettingsError,
    check_worker_env,
    names_our_code_reads,
)

MINIMAL = {
    "ARKOR_TEMPORAL_TOKEN": "t",
    "ARKOR_TEMPORAL_ORG": "o",
    "ARKOR_TEMPORAL_PROJECT": "p",
}


def test_the_source_scan_finds_the_documented_settings() -> None:
    # README, "Configuration" and "Sizing a fleet"; the health address is worker.py's --health.
    documented = {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_API_KEY",
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_PROFILE",
        "ARKOR_TEMPORAL_TASK_QUEUE",
        "ARKOR_TEMPORAL_TOKEN",
        "ARKOR_TEMPORAL_ORG",
        "ARKOR_TEMPORAL_PROJECT",
        "ARKOR_TEMPORAL_API_URL",
        "ARKOR_TEMPORAL_CLIENT_VERSION",
        "ARKOR_CLOUD_API_URL",
        "ARKOR_TEMPORAL_WIRE_SCHEMA",
        "ARKOR_TEMPORAL_STARTUP_WAIT",
        "ARKOR_TEMPORAL_STREAM_SLOTS",
        "ARKOR_TEMPORAL_CONTROL_SLOTS",
        "ARKOR_TEMPORAL_WORK_SLOTS",
        "ARKOR_TEMPORAL_METRICS_ADDRESS",
        "ARKOR_TEMPORAL_HEALTH_ADDRESS",
        "ARKOR_TEMPORAL_LOG_FORMAT",
        "ARKOR_TEMPORAL_LOG_LEVEL",
    }
    assert documented <= names_our_code_reads(), documented - names_our_code_reads()


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, "x") for name in sorted(TEMPORAL_ENVCONFIG) if not name.endswith("_PATH")]
    + [("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "<file>"), ("TEMPORAL_GRPC_META_X_TEAM", "ml")],
)
def test_each_temporal_sdk_setting_we_accept_is_read(name: str, value: str, tmp_path: Path) -> None:
    """TEMPORAL_ENVCONFIG holds only names that change what TemporalSettings.resolve gives."""
    if value == "<file>":
        value = str(tmp_path / "ca.pem")
        Path(value).write_text("placeholder")
    if name == "TEMPORAL_TLS":
        value = "true"
    assert TemporalSettings.resolve(env={name: value}) != TemporalSettings.resolve(env={})


def test_a_minimal_env_passes(tmp_path: Path) -> None:
    resolved = check_worker_env("minimal", MINIMAL, tmp_path)
    assert resolved.temporal.address == "localhost:7233"
    assert resolved.capacity.streams == 1000


@pytest.mark.parametrize(
    "typo",
    [
        "ARKOR_TEMPORAL_STREAM_SLOT",  # missing S
        "TEMPORAL_ADRESS",
        "ARKOR_TEMPORAL_HEALTH_ADDR",
        "TEMPORAL_CODEC_ENDPOINT",  # the CLI's codec server setting; the Python SDK ignores it
    ],
)
def test_a_name_the_worker_does_not_read_fails(typo: str, tmp_path: Path) -> None:
    with pytest.raises(DeploySettingsError, match=typo):
        check_worker_env("typo", {**MINIMAL, typo: "1"}, tmp_path)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ARKOR_TEMPORAL_WIRE_SCHEMA", "clouds", "not a wire schema"),
        ("ARKOR_TEMPORAL_STREAM_SLOTS", "0", "not a slot count"),
        ("ARKOR_TEMPORAL_WORK_SLOTS", "fifty", "not a slot count"),
        ("ARKOR_TEMPORAL_STARTUP_WAIT", "-1", "not a number of seconds"),
        ("ARKOR_TEMPORAL_API_URL", "api.arkor.ai", "Invalid Arkor API base URL"),
        ("TEMPORAL_TLS_CLIENT_CERT_PATH", "/nonexistent/tls.crt", "No such file"),
        # the worker would silently log console lines instead
        ("ARKOR_TEMPORAL_LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("ARKOR_TEMPORAL_LOG_LEVEL", "LOUD", "LOUD"),  # the worker dies with a traceback
        ("ARKOR_TEMPORAL_HEALTH_ADDRESS", "localhost", "not HOST:PORT"),
        ("ARKOR_TEMPORAL_METRICS_ADDRESS", "0.0.0.0:metrics", "not HOST:PORT"),
    ],
)
def test_a_bad_value_fails(name: str, value: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(DeploySettingsError, match=message):
        check_worker_env("bad value", {**MINIMAL, name: value}, tmp_path)
