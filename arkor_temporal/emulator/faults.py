"""Fault injection: the switch set and the request-level error injector.

The same JSON shape (camelCase keys) configures faults in three places:

* per job, in the job config passthrough ``config["emulator"]["faults"]``;
* globally, through ``EmulatorConfig.faults``, the CLI ``--fault NAME=VALUE``
  and ``POST /_emulator/faults``.

A per-job value wins over the global one for the same key. Unknown keys are
rejected (a typo must not silently disable a fault test).

Counted faults ("the first N ...") count per subject, never server-wide, so that
concurrent runs never use up each other's faults: per job for stream opens,
drops and 5xx bursts on a job's routes, per run for ``loseCreateResponse`` (a
retried create makes a new job, so the run is the subject).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PostCancel = Literal["end", "failed", "unknown"]


class Faults(BaseModel):
    """Every switch is optional; ``None`` means "not set here"."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    stream_not_found_first: int | None = Field(None, alias="streamNotFoundFirst", ge=0)
    server_error_rate: float | None = Field(None, alias="serverErrorRate", ge=0.0, le=1.0)
    server_error_status: int | None = Field(None, alias="serverErrorStatus", ge=500, le=599)
    server_error_empty_body: bool | None = Field(None, alias="serverErrorEmptyBody")
    server_error_burst: int | None = Field(None, alias="serverErrorBurst", ge=0)
    drop_after_frames: int | None = Field(None, alias="dropAfterFrames", ge=0)
    drop_connections: int | None = Field(None, alias="dropConnections", ge=0)
    # The first N connections of the job are cut halfway through their second data frame.
    drop_mid_frame: int | None = Field(None, alias="dropMidFrame", ge=0)
    empty_stream_first: int | None = Field(None, alias="emptyStreamFirst", ge=0)
    ping_only_first: int | None = Field(None, alias="pingOnlyFirst", ge=0)
    malformed_frames: bool | None = Field(None, alias="malformedFrames")
    end_while_running_after: int | None = Field(None, alias="endWhileRunningAfter", ge=1)
    post_cancel: PostCancel | None = Field(None, alias="postCancel")
    lose_create_response: int | None = Field(None, alias="loseCreateResponse", ge=0)
    slow_start_seconds: float | None = Field(None, alias="slowStartSeconds", ge=0.0)
    # The cancel route waits this long before applying and answering (a slow backend,
    # or a window in which the caller can crash mid-request).
    cancel_delay_seconds: float | None = Field(None, alias="cancelDelaySeconds", ge=0.0)
    # Every inference answer for the job takes this long (a slow or cold endpoint).
    inference_delay_seconds: float | None = Field(None, alias="inferenceDelaySeconds", ge=0.0)
    tool_calling_not_configured: bool | None = Field(None, alias="toolCallingNotConfigured")

    def over(self, fallback: Faults) -> Faults:
        """This set layered over ``fallback``: keys set here win."""
        merged = fallback.model_dump(exclude_none=True)
        merged.update(self.model_dump(exclude_none=True))
        return Faults.model_validate(merged)

    def wire(self) -> dict[str, object]:
        """The camelCase JSON shape, without unset keys."""
        return self.model_dump(by_alias=True, exclude_none=True)


GlobalFaults = Faults
"""The global fault set has exactly the per-job shape; the alias names its role."""


class FirstN:
    """Counts hits per subject: the first ``limit`` asks about each subject are hits."""

    def __init__(self) -> None:
        self._hits: Counter[str] = Counter()

    def hit(self, subject: str, limit: int | None) -> bool:
        if self._hits[subject] >= (limit or 0):
            return False
        self._hits[subject] += 1
        return True


class ErrorInjector:
    """Decides whether one request answers a synthetic 5xx.

    One injector exists for the whole server (global faults) and one per job
    (that job's faults), each with its own seeded RNG; ``serverErrorBurst``
    counts per subject (see the module docstring).
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._bursts = FirstN()

    def should_fail(self, subject: str, faults: Faults) -> bool:
        if self._bursts.hit(subject, faults.server_error_burst):
            return True
        # Draw only when a rate is set so that enabling a rate later does not
        # depend on how many requests came before.
        rate = faults.server_error_rate
        return bool(rate) and self._rng.random() < (rate or 0.0)
