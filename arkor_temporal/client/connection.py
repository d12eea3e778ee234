"""Connecting to Temporal, the same way for the worker, the CLI and the Python API.

Settings come from Temporal's own environment variables and profile file
(``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
``TEMPORAL_TLS_CLIENT_CERT_PATH``/``_KEY_PATH``, ``TEMPORAL_PROFILE``,
``TEMPORAL_CONFIG_FILE`` and ``~/.config/temporalio/temporal.toml``), so an
existing Temporal Cloud setup works unchanged. The default is the local dev
server. Flags (the CLI's, or keyword arguments of :meth:`TemporalSettings.resolve`)
beat the environment, which beats the profile. Our additions are the task
queue, ``ARKOR_TEMPORAL_TASK_QUEUE``, and payload encryption: with keys in
``ARKOR_TEMPORAL_CODEC_KEYS`` (or ``_KEYS_FILE``) every payload is encrypted and
decrypted with them (:mod:`arkor_temporal.codec`), for the worker, the CLI and the
Python API alike; and tracing: with ``OTEL_TRACES_EXPORTER`` set, every connection
carries the SDK's OpenTelemetry interceptor (:mod:`arkor_temporal.telemetry.tracing`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.codec import AesGcmCodec, CodecKeyError, codec_from_env, encrypted_converter
from arkor_temporal.core.names import DEFAULT_TASK_QUEUE
from arkor_temporal.telemetry.tracing import DEFAULT_SERVICE, Tracing, TracingConfigError

DEFAULT_ADDRESS = "localhost:7233"


class TemporalUnavailableError(RuntimeError):
    """No Temporal server answered; the message says what to start."""


class ConnectionSettingsError(ValueError):
    """The connection settings themselves are wrong (missing profile, unreadable cert)."""


class NamespaceNotFoundError(ConnectionSettingsError):
    """The server answers, but has no namespace of that name."""

    def __init__(self, namespace: str, address: str) -> None:
        super().__init__(
            f"Temporal at {address} has no namespace {namespace!r}: pass the one your runs "
            "live in with --namespace or TEMPORAL_NAMESPACE (`temporal operator namespace list` "
            f"lists them), or create it: `temporal operator namespace create --namespace "
            f"{namespace}`"
        )


def namespace_missing(exc: RPCError) -> bool:
    """Whether a NOT_FOUND is about the namespace rather than the workflow or schedule asked
    for: Temporal answers both with the same status, only the error details tell them apart."""
    return exc.status == RPCStatusCode.NOT_FOUND and any(
        detail.type_url.endswith(".NamespaceNotFoundFailure") for detail in exc.grpc_status.details
    )


@dataclass(frozen=True)
class TemporalSettings:
    address: str = DEFAULT_ADDRESS
    namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    connect_options: Mapping[str, Any] = field(default_factory=dict)
    codec: AesGcmCodec | None = None  # payload encryption; its repr shows key ids only
    tracing: Tracing | None = None  # OpenTelemetry; None: off (the default)

    @classmethod
    def resolve(
        cls,
        *,
        address: str | None = None,
        namespace: str | None = None,
        task_queue: str | None = None,
        profile: str | None = None,
        config_file: Path | None = None,
        api_key: str | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TemporalSettings:
        """Flags beat environment, environment beats profile file, then defaults."""
        overlay = {
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_NAMESPACE": namespace,
            "TEMPORAL_PROFILE": profile,
            "TEMPORAL_CONFIG_FILE": str(config_file) if config_file else None,
            "TEMPORAL_API_KEY": api_key,
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(tls_cert) if tls_cert else None,
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(tls_key) if tls_key else None,
            "ARKOR_TEMPORAL_TASK_QUEUE": task_queue,
        }
        merged = {
            **(os.environ if env is None else env),
            **{k: v for k, v in overlay.items() if v},
        }
        config = _load_profile(merged)
        target = config.pop("target_host", None) or DEFAULT_ADDRESS
        ns = config.pop("namespace", None) or "default"
        queue = merged.get("ARKOR_TEMPORAL_TASK_QUEUE") or DEFAULT_TASK_QUEUE
        try:
            codec = codec_from_env(merged)
        except CodecKeyError as exc:
            raise ConnectionSettingsError(f"payload encryption: {exc}") from None
        try:
            tracing = Tracing.from_env(merged)
        except TracingConfigError as exc:
            raise ConnectionSettingsError(f"tracing: {exc}") from None
        return cls(
            address=target,
            namespace=ns,
            task_queue=queue,
            connect_options=config,
            codec=codec,
            tracing=tracing,
        )

    @property
    def data_converter(self) -> DataConverter:
        """The pydantic converter, encrypting every payload when keys are configured."""
        return encrypted_converter(self.codec)

    async def connect(
        self, runtime: Runtime | None = None, *, service: str = DEFAULT_SERVICE
    ) -> Client:
        """A client with these settings; ``service`` names the process in its traces."""
        interceptors = self.tracing.interceptors(service) if self.tracing else []
        try:
            return await Client.connect(
                self.address,
                namespace=self.namespace,
                data_converter=self.data_converter,
                runtime=runtime,
                interceptors=interceptors,
                **self.connect_options,
            )
        except (RuntimeError, RPCError) as exc:
            raise TemporalUnavailableError(
                f"cannot reach Temporal at {self.address} (namespace {self.namespace}): {exc}. "
                "Start a local server with `arkor-temporal dev up`, or point TEMPORAL_ADDRESS "
                "(and TEMPORAL_NAMESPACE / TEMPORAL_API_KEY for Temporal Cloud) at yours."
            ) from exc


def _load_profile(env: Mapping[str, str]) -> dict[str, Any]:
    try:
        return dict(
            ClientConfig.load_client_connect_config(
                profile=env.get("TEMPORAL_PROFILE"),
                config_file=env.get("TEMPORAL_CONFIG_FILE"),
                override_env_vars=dict(env),
            )
        )
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConnectionSettingsError(f"Temporal connection settings: {exc}") from exc
