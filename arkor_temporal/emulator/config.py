"""Emulator configuration (defaults suit embedding in tests and local runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.training_logs import LoggingStyle

CLIENT_HEADER_FORMAT = r"^arkor/[\w.\-+]+$"
"""Shape of a well-formed ``X-Arkor-Client`` value (docs/protocol.md §1.1)."""

DEPRECATION_WARNING = "Arkor SDK protocol 0.0.3-alpha.1 is deprecated"
DEPRECATION_SUNSET = "Wed, 01 Jul 2026 00:00:00 GMT"


class GlobalSettings(BaseModel):
    """Server-wide switches; each default is as hard as the real cloud, bar one (below).

    Set in ``EmulatorConfig.settings``, on the command line, or at run time with
    ``POST /_emulator/settings`` (camelCase keys). A job's own ``config["emulator"]``
    wins where it sets the same switch (``logging``).
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    logging: LoggingStyle = "huggingface"
    # The real cloud ignores Idempotency-Key (docs/protocol.md §2.5, §14.3).
    honour_idempotency_key: bool = Field(False, alias="honourIdempotencyKey")
    # The new cloud rejects bare step settings, but the published SDK sends them, so the
    # default accepts both generations (docs/protocol.md §14.13).
    reject_bare_step_numbers: bool = Field(False, alias="rejectBareStepNumbers")

    def wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True)


@dataclass
class EmulatorConfig:
    """Everything the emulator needs; every field has a default.

    ``port`` 0 asks the OS for an ephemeral port (the CLI defaults to 8787).
    ``client_version_range`` is a regular expression the whole
    ``X-Arkor-Client`` value must match; a well-formed value outside it gets the
    plain 426 (no ``reason``), mirroring a server-side semver range.
    """

    host: str = "127.0.0.1"
    port: int = 0
    steps_per_second: float = 2.0
    ping_interval: float = 15.0
    token: str = "emu-token"
    org_slug: str = "emu-org"
    project_slug: str = "emu-project"
    seed: int = 7
    supported_models: tuple[str, ...] = ("unsloth/gemma-4-E4B-it",)
    queue_seconds: float = 1.0
    client_version_range: str = CLIENT_HEADER_FORMAT
    deprecation: bool = False
    faults: Faults = field(default_factory=Faults)
    settings: GlobalSettings = field(default_factory=GlobalSettings)
    # Where jobs outlive a restart (see Store.save); None keeps them in memory only.
    state_file: Path | None = None

    def __post_init__(self) -> None:
        if self.steps_per_second <= 0:
            raise ValueError("steps_per_second must be positive")
        if self.ping_interval <= 0:
            raise ValueError("ping_interval must be positive")
        if self.queue_seconds < 0:
            raise ValueError("queue_seconds must not be negative")
