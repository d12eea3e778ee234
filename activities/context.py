"""What every cloud activity needs: resolved settings and the stream policy.

Settings are resolved once, on the worker (credentials never travel through
Temporal). Each activity opens its own client, so a stuck connection in one run
cannot stall another.

The wire schema (docs/protocol.md §14.13) is read here too: it describes the
backend this worker talks to, and only the activities shape what is sent, so it
belongs to the worker's context rather than to a run's spec or to the HTTP client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from arkor_cloud import ArkorClient, ClientSettings, ConfigurationError, ReconnectPolicy
from arkor_temporal.core.spec import WireSchema

ENV_WIRE_SCHEMA = "ARKOR_TEMPORAL_WIRE_SCHEMA"


def wire_schema_from_env(env: Mapping[str, str] | None = None) -> WireSchema:
    """``ARKOR_TEMPORAL_WIRE_SCHEMA``: ``sdk`` (the default; empty counts as unset) or ``cloud``."""
    raw = (os.environ if env is None else env).get(ENV_WIRE_SCHEMA) or WireSchema.SDK
    try:
        return WireSchema(raw)
    except ValueError:
        choices = " or ".join(schema.value for schema in WireSchema)
        raise ConfigurationError(
            f"{ENV_WIRE_SCHEMA}={raw!r} is not a wire schema: set it to {choices}, "
            "or leave it unset for sdk."
        ) from None


@dataclass(frozen=True)
class CloudContext:
    settings: ClientSettings
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    wire_schema: WireSchema = field(default_factory=wire_schema_from_env)

    def client(self) -> ArkorClient:
        return ArkorClient(self.settings)
