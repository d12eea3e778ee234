"""What every cloud activity needs: resolved settings and the stream policy.

Settings are resolved once, on the worker (credentials never travel through
Temporal). Each activity opens its own client, so a stuck connection in one run
cannot stall another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arkor_cloud import ArkorClient, ClientSettings, ReconnectPolicy


@dataclass(frozen=True)
class CloudContext:
    settings: ClientSettings
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

    def client(self) -> ArkorClient:
        return ArkorClient(self.settings)
