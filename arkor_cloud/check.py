"""``python -m arkor_cloud.check``: resolve the settings as the worker does and print, as
JSON, where they come from (never the token), or the error that names the fix.

For tools that must not import this package into their own process (``arkor-temporal
doctor`` keeps the CLI free of the Arkor client) yet must give the worker's answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from arkor_cloud.errors import ConfigurationError
from arkor_cloud.files import credentials_path
from arkor_cloud.settings import ENV_TOKEN, ENV_TOKEN_FILE, ClientSettings


def describe_settings(
    env: Mapping[str, str] | None = None, home: Path | None = None
) -> dict[str, str]:
    """``{"token": <its source>, "url": ..., "scope": "org/project"}`` or ``{"error": ...}``."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    try:
        settings = ClientSettings.resolve(env=env, home=home)
    except ConfigurationError as exc:
        return {"error": str(exc)}
    named = [name for name in (ENV_TOKEN, ENV_TOKEN_FILE) if env.get(name)]
    return {
        "token": named[0] if named else str(credentials_path(home)),
        "url": settings.base_url,
        "scope": f"{settings.org_slug}/{settings.project_slug}",
    }


if __name__ == "__main__":
    print(json.dumps(describe_settings()))
