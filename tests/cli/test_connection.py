"""Connection settings: flags beat the environment, which beats the profile file."""

from __future__ import annotations

from pathlib import Path

import pytest

from arkor_temporal.client.connection import ConnectionSettingsError, TemporalSettings

PROFILE = """
[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
api_key = "from-profile"
"""


def test_profile_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILE)
    env = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud"}
    from_profile = TemporalSettings.resolve(env=env)
    assert (from_profile.address, from_profile.namespace) == ("ns.acct.tmprl.cloud:7233", "ns.acct")
    assert from_profile.connect_options["api_key"] == "from-profile"
    assert from_profile.connect_options["tls"] is True, "an API key implies TLS"
    from_env = TemporalSettings.resolve(
        env={**env, "TEMPORAL_NAMESPACE": "env-ns", "ARKOR_TEMPORAL_TASK_QUEUE": "env-q"}
    )
    assert (from_env.namespace, from_env.task_queue) == ("env-ns", "env-q")
    flags = TemporalSettings.resolve(
        env={**env, "TEMPORAL_NAMESPACE": "env-ns"}, namespace="flag-ns", api_key="from-flag"
    )
    assert (flags.namespace, flags.connect_options["api_key"]) == ("flag-ns", "from-flag")


def test_defaults_are_the_local_dev_server() -> None:
    settings = TemporalSettings.resolve(env={})
    assert (settings.address, settings.namespace, settings.task_queue) == (
        "localhost:7233",
        "default",
        "arkor-training",
    )


def test_bad_settings_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConnectionSettingsError, match="Profile 'nope' not found"):
        TemporalSettings.resolve(env={}, profile="nope")
    with pytest.raises(ConnectionSettingsError, match=r"missing\.pem"):
        TemporalSettings.resolve(env={}, tls_cert=tmp_path / "missing.pem")
