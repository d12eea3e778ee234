"""Project-client settings for a test emulator, signed in as the user it seeds."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from arkor_cloud import ClientSettings
from arkor_temporal.dev.local import EMULATOR_IDENTITY


def emulator_settings(base_url: str, **overrides: Any) -> ClientSettings:
    """Settings for the emulator at ``base_url``; keyword arguments override other fields."""
    return ClientSettings(
        base_url=base_url,
        token=SecretStr(EMULATOR_IDENTITY.token),
        org_slug=EMULATOR_IDENTITY.org,
        project_slug=EMULATOR_IDENTITY.project,
        **overrides,
    )
