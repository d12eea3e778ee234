"""The worker's settings, judged by the worker's own parsers.

Every deployment artefact's environment goes through :func:`check_worker_env`:
first every ``ARKOR_*``/``TEMPORAL_*`` name must be one our code reads (found by
reading the source, so a new setting is known the moment the code names it, and
a typo is not), then each value goes through the function the worker itself
resolves it with.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from arkor_cloud import ClientSettings
from arkor_temporal.activities.context import wire_schema_from_env
from arkor_temporal.client.connection import TemporalSettings
from arkor_temporal.core.spec import WireSchema
from arkor_temporal.startup import startup_wait
from arkor_temporal.worker import Capacity
from tests.deploy.deploy import HOST_PORT, ROOT

# Where the worker's (and the CLI's) code lives; tests and benchmarks are not settings.
SOURCES = (
    ROOT / "arkor_temporal",
    ROOT / "arkor_cloud",
    ROOT / "workflows",
    ROOT / "activities",
    ROOT / "worker.py",
)
OUR_PREFIXES = ("ARKOR_", "TEMPORAL_")
NAME_LITERAL = re.compile(r"""["']((?:ARKOR|TEMPORAL)_[A-Z0-9_]*[A-Z0-9])["']""")

# Temporal's own client settings that temporalio.envconfig reads for TemporalSettings.resolve
# without our code naming them; test_settings proves each one changes what it returns.
TEMPORAL_ENVCONFIG = frozenset(
    {
        "TEMPORAL_TLS",
        "TEMPORAL_TLS_SERVER_NAME",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
        "TEMPORAL_TLS_CLIENT_CERT_DATA",
        "TEMPORAL_TLS_CLIENT_KEY_DATA",
    }
)
TEMPORAL_ENVCONFIG_PREFIXES = ("TEMPORAL_GRPC_META_",)

LOG_FORMATS = {"json", "console"}  # arkor_temporal.logs.configure_logging


def _python_files() -> list[Path]:
    files: list[Path] = []
    for source in SOURCES:
        files += [source] if source.is_file() else sorted(source.rglob("*.py"))
    return files


@cache
def names_our_code_reads() -> frozenset[str]:
    """Every ``ARKOR_*``/``TEMPORAL_*`` name that appears as a string literal in our code."""
    names: set[str] = set()
    for path in _python_files():
        names.update(NAME_LITERAL.findall(path.read_text(encoding="utf-8")))
    return frozenset(names)


def is_known(name: str) -> bool:
    return (
        name in names_our_code_reads()
        or name in TEMPORAL_ENVCONFIG
        or name.startswith(TEMPORAL_ENVCONFIG_PREFIXES)
    )


def unknown_settings(env: Mapping[str, str]) -> list[str]:
    """Names that look like ours (ARKOR_*, TEMPORAL_*) but no code of ours reads."""
    return sorted(n for n in env if n.startswith(OUR_PREFIXES) and not is_known(n))


class DeploySettingsError(AssertionError):
    """A deployment artefact's environment that the worker would refuse (or ignore)."""


@dataclass(frozen=True)
class Resolved:
    temporal: TemporalSettings
    cloud: ClientSettings
    wire_schema: WireSchema
    capacity: Capacity
    startup_wait: float


def check_worker_env(where: str, env: Mapping[str, str], scratch: Path) -> Resolved:
    """Resolve ``env`` the way the worker does; raise :class:`DeploySettingsError` if it can't.

    ``scratch`` is an empty directory standing for the container's home and working
    directory, so no file of this machine's (``~/.arkor``, ``temporal.toml``) is read.
    """
    unknown = unknown_settings(env)
    if unknown:
        raise DeploySettingsError(
            f"{where}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not read "
            "by the worker (a typo, or a setting that does not exist); the names our code "
            f"reads: {', '.join(sorted(names_our_code_reads()))}"
        )
    env = dict(env)
    home, cwd = scratch / "home", scratch / "cwd"
    home.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    env.setdefault("HOME", str(home))
    try:
        resolved = Resolved(
            temporal=TemporalSettings.resolve(env=env),
            cloud=ClientSettings.resolve(env, home=home, cwd=cwd),
            wire_schema=wire_schema_from_env(env),
            capacity=Capacity.resolve(env),
            startup_wait=startup_wait(env),
        )
        _check_unparsed(env)
    except (Exception, SystemExit) as exc:  # startup_wait raises StartupError (SystemExit)
        raise DeploySettingsError(f"{where}: {type(exc).__name__}: {exc}") from exc
    return resolved


def _check_unparsed(env: Mapping[str, str]) -> None:
    """Settings the worker reads without a validating parser of its own."""
    fmt = env.get("ARKOR_TEMPORAL_LOG_FORMAT")
    if fmt and fmt not in LOG_FORMATS:
        raise ValueError(f"ARKOR_TEMPORAL_LOG_FORMAT={fmt!r}: use one of {sorted(LOG_FORMATS)}")
    level = env.get("ARKOR_TEMPORAL_LOG_LEVEL")
    if level:
        logging.getLogger("tests.deploy.level-check").setLevel(level)  # ValueError if unknown
    for name in ("ARKOR_TEMPORAL_METRICS_ADDRESS", "ARKOR_TEMPORAL_HEALTH_ADDRESS"):
        value = env.get(name)
        if value and not HOST_PORT.match(value):
            raise ValueError(f"{name}={value!r} is not HOST:PORT")
    ui = env.get("ARKOR_TEMPORAL_UI_URL")
    if ui and not ui.startswith(("http://", "https://")):
        raise ValueError(f"ARKOR_TEMPORAL_UI_URL={ui!r} is not an http(s) URL")


def port_of(address: str) -> int:
    match = HOST_PORT.match(address)
    assert match, address
    return int(match["port"])
