"""Turn a job's config (as POSTed) into the plan the emulator follows for the job.

The real backend owns these semantics; the emulator reads the documented knobs
(docs/protocol.md §4.3) with Hugging Face-like defaults and rejects values it cannot
simulate with a ``ValueError`` that the API turns into a 400. Both generations of the
config's shapes are served (§14.13): step settings as a bare number or as
``{steps: N}`` / ``{ratio: x}``, and ``datasetSplit`` as a passthrough value or as
``{enabled, testSize?, seed?}``. The ``emulator`` passthrough object adds the scenario,
the faults and the switches that make the emulator kinder than the real cloud (each off
by default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.framing import PLAIN, Framing
from arkor_temporal.emulator.training_logs import LoggingStyle

STEPS_PER_EPOCH = 100
DRY_RUN_MAX_STEPS = 10
QUEUED_SCENARIO_DEFAULT_SECONDS = 3600.0

ScenarioName = Literal["normal", "diverge", "nan", "fail", "queued", "slow"]


class ScenarioSpec(BaseModel):
    """The ``config["emulator"]`` passthrough object."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    scenario: ScenarioName = "normal"
    at_step: int | None = Field(None, alias="atStep", ge=1)
    error: str = "CUDA out of memory"
    queue_seconds: float | None = Field(None, alias="queueSeconds", ge=0.0)
    slow_factor: float = Field(10.0, alias="slowFactor", gt=0.0)
    faults: Faults = Field(default_factory=Faults)
    # None: the server's setting (GlobalSettings.logging).
    logging: LoggingStyle | None = None
    # The old "<job>-evt-<n>" ids instead of opaque, unordered ones (docs/protocol.md §14.5).
    ordered_ids: bool = Field(False, alias="orderedIds")
    framing: Framing = Field(default_factory=Framing)

    @field_validator("framing", mode="before")
    @classmethod
    def _plain_shorthand(cls, value: object) -> object:
        return PLAIN if value == "plain" else value


class DatasetSplit(BaseModel):
    """PR #210's ``datasetSplit`` object; evaluation runs only when enabled (§14.13)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    enabled: StrictBool
    test_size: float = Field(0.1, alias="testSize", gt=0.0, lt=1.0, strict=True)
    seed: int = Field(42, ge=0, strict=True)


@dataclass(frozen=True)
class TrainingPlan:
    total_steps: int
    logging_steps: int
    eval_steps: int | None
    save_steps: int
    warmup_steps: int
    learning_rate: float
    lr_scheduler: str
    batch_size: int
    scenario: ScenarioName
    at_step: int
    error: str
    queue_seconds: float
    slow_factor: float
    faults: Faults
    logging: LoggingStyle
    ordered_ids: bool
    framing: Framing

    def is_log_step(self, step: int) -> bool:
        return step % self.logging_steps == 0

    def is_eval_step(self, step: int) -> bool:
        return self.eval_steps is not None and step % self.eval_steps == 0

    def is_save_step(self, step: int) -> bool:
        return step % self.save_steps == 0

    def after_scenario_start(self, step: int, scenario: ScenarioName) -> bool:
        return self.scenario == scenario and step >= self.at_step


def plan_job(
    config: Mapping[str, Any],
    *,
    default_queue_seconds: float,
    default_logging: LoggingStyle,
    reject_bare_step_numbers: bool = False,
) -> TrainingPlan:
    """Build the plan, raising ``ValueError`` naming the offending key.

    ``reject_bare_step_numbers`` answers bare step settings as the new cloud does
    (docs/protocol.md §14.13); a stored job's plan is rebuilt without it.
    """
    spec = _scenario(config.get("emulator"))
    max_steps = _number(config, "maxSteps", integer=True)
    epochs = _number(config, "numTrainEpochs") or 1.0
    total = int(max_steps) if max_steps else math.ceil(epochs * STEPS_PER_EPOCH)
    if config.get("dryRun") is True:
        total = min(total, DRY_RUN_MAX_STEPS)
    _check_gpu_types(config.get("gpuTypes"))

    def steps(key: str, *, allow_zero: bool = False) -> int | None:
        return _step_setting(
            config, key, total, allow_zero=allow_zero, reject_bare=reject_bare_step_numbers
        )

    eval_steps = steps("evalSteps")
    if not _evaluates(config.get("datasetSplit")):
        eval_steps = None
    queue_seconds = spec.queue_seconds
    if queue_seconds is None:
        queue_seconds = (
            QUEUED_SCENARIO_DEFAULT_SECONDS if spec.scenario == "queued" else default_queue_seconds
        )
    return TrainingPlan(
        total_steps=total,
        logging_steps=steps("loggingSteps") or 5,
        eval_steps=eval_steps,
        save_steps=steps("saveSteps") or 50,
        warmup_steps=steps("warmupSteps", allow_zero=True) or 0,
        learning_rate=_number(config, "learningRate") or 2e-4,
        lr_scheduler=str(config.get("lrSchedulerType") or "linear"),
        batch_size=int(_number(config, "batchSize", integer=True) or 4),
        scenario=spec.scenario,
        at_step=min(spec.at_step or max(1, total // 2), total),
        error=spec.error,
        queue_seconds=queue_seconds,
        slow_factor=spec.slow_factor,
        faults=spec.faults,
        logging=spec.logging or default_logging,
        ordered_ids=spec.ordered_ids,
        framing=spec.framing,
    )


def _scenario(raw: object) -> ScenarioSpec:
    if raw is None:
        return ScenarioSpec()
    if not isinstance(raw, dict):
        raise ValueError("config.emulator must be an object")
    try:
        return ScenarioSpec.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"config.emulator is invalid: {_problems(exc)}") from None


def _step_setting(
    config: Mapping[str, Any], key: str, total: int, *, allow_zero: bool, reject_bare: bool
) -> int | None:
    """A step setting as a step count, or ``None`` when absent (docs/protocol.md §14.13).

    ``{ratio: x}`` is ``round(x * total)`` steps, at least one.
    """
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, dict):
        if value.keys() == {"steps"} and _whole(value["steps"], allow_zero):
            return int(value["steps"])
        ratio = value.get("ratio")
        if value.keys() == {"ratio"} and _is_number(ratio) and 0 < ratio <= 1:
            return max(1, round(ratio * total))
    elif _whole(value, allow_zero):
        if reject_bare:
            raise ValueError(
                f"config.{key}: a bare number is not accepted; send {{steps: N}} or {{ratio: x}}"
            )
        return int(value)
    sign = "non-negative" if allow_zero else "positive"
    raise ValueError(
        f"config.{key} must be a {sign} integer, {{steps: N}} or {{ratio: x}} with 0 < x <= 1"
    )


def _evaluates(split: object) -> bool:
    """Whether eval logs are due: the object form says so; any older value keeps them on."""
    if not isinstance(split, dict):
        return True
    try:
        return DatasetSplit.model_validate(split).enabled
    except ValidationError as exc:
        raise ValueError(f"config.datasetSplit is invalid: {_problems(exc)}") from None


def _check_gpu_types(value: object) -> None:
    if value is None:
        return
    if not (isinstance(value, list) and all(isinstance(t, str) and t for t in value)):
        raise ValueError("config.gpuTypes must be a list of non-empty strings")


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


def _is_number(value: object) -> TypeGuard[int | float]:
    # bool is an int subclass in Python but not a number on the wire.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object, allow_zero: bool) -> bool:
    if not (_is_number(value) and float(value).is_integer()):
        return False
    return value >= 0 if allow_zero else value > 0


def _number(
    config: Mapping[str, Any], key: str, *, integer: bool = False, allow_zero: bool = False
) -> float | None:
    """A positive (or non-negative) finite number, or ``None`` when absent."""
    value = config.get(key)
    if value is None:
        return None
    ok = _is_number(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        kind = "integer" if integer else "number"
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"config.{key} must be a {sign} {kind}")
    return float(value)
