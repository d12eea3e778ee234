"""Links to a run in the Temporal Web UI.

The UI's address is not something a Temporal connection reveals, so it is
``ARKOR_TEMPORAL_UI_URL`` when set; otherwise Temporal Cloud's console for a
Cloud endpoint, and the local dev server's UI (port 8233) for a local one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

ENV_UI_URL = "ARKOR_TEMPORAL_UI_URL"
CLOUD_UI = "https://cloud.temporal.io"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def web_ui_base(address: str, env: Mapping[str, str] | None = None) -> str | None:
    """The Web UI's base URL for the Temporal at ``address``, or None when unknown."""
    configured = (os.environ if env is None else env).get(ENV_UI_URL)
    if configured:
        return configured.rstrip("/")
    host, _, port = address.rpartition(":")
    if host.endswith((".tmprl.cloud", ".api.temporal.io")):
        return CLOUD_UI
    if host in _LOCAL_HOSTS:
        # The dev server serves its UI 1000 ports above its gRPC port (7233 -> 8233).
        return f"http://localhost:{int(port) + 1000}" if port.isdigit() else None
    return None


def run_link(
    address: str, namespace: str, workflow_id: str, env: Mapping[str, str] | None = None
) -> str | None:
    """The run's page in the Web UI (its latest execution), or None when the UI is unknown."""
    base = web_ui_base(address, env)
    if base is None:
        return None
    return f"{base}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
