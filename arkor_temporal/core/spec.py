"""The run spec: everything the SDK's ``createTrainer`` takes, plus orchestration.

A spec is validated completely before anything starts. Field names follow the
SDK (camelCase, as in ``createTrainer``); snake_case is accepted too. Unknown
fields are errors, so a typo never silently falls back to a backend default.
Secrets never appear in a spec: a blob dataset names the *environment
variable* that holds its token, resolved on the worker, and no URL in the
dataset or in a field passed through to the backend may carry credentials
(``user:pass@``, ``?token=``, ``?sig=``...; see ``core/urls.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from arkor_temporal.core.durations import parse_duration
from arkor_temporal.core.evals import EvalSuiteSpec
from arkor_temporal.core.hooks import HooksSpec
from arkor_temporal.core.names import MARKER_KEY
from arkor_temporal.core.notifications import NotificationSpec
from arkor_temporal.core.spec_base import ENV_NAME, SpecModel
from arkor_temporal.core.urls import find_url_secrets, url_secrets

SUPPORTED_MODELS = ("unsloth/gemma-4-E4B-it",)
# Why a URL in a spec must be clean; every refused URL says it, before its own fix.
_STORED = "a spec is stored in Temporal history and shown in the Web UI, so it must hold no secrets"


class HuggingFaceDatasetSpec(SpecModel):
    type: Literal["huggingface"]
    name: str = Field(min_length=1)
    split: str | None = None
    subset: str | None = None


class BlobDatasetSpec(SpecModel):
    type: Literal["blob"]
    url: str = Field(pattern=r"^https?://")
    token_env: str | None = Field(
        default=None, description="name of the worker environment variable holding the token"
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_literal_token(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "token" in data:
            raise ValueError(
                "a literal token is not allowed in a spec (it would be stored in Temporal "
                "history); put it in an environment variable on the worker and set "
                "dataset.tokenEnv to that variable's name"
            )
        return data

    @field_validator("url")
    @classmethod
    def _refuse_credentials_in_url(cls, value: str) -> str:
        found = url_secrets(value)
        if found is not None:
            raise ValueError(
                f"{found.describe()}; {_STORED}: give the URL without them, put the token in "
                "an environment variable on the worker and set dataset.tokenEnv to that "
                "variable's name"
            )
        return value

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError("must be an environment variable name such as BLOB_TOKEN")
        return value


DatasetSpec = Annotated[HuggingFaceDatasetSpec | BlobDatasetSpec, Field(discriminator="type")]


class LoraSpec(SpecModel):
    r: int = Field(gt=0)
    alpha: int = Field(gt=0)
    max_length: int | None = Field(default=None, gt=0)
    load_in_4bit: bool | None = Field(default=None, alias="loadIn4bit")


def duration_seconds(value: Any) -> float:
    """Seconds from a number of seconds or a duration such as ``90s``, ``30m``, ``6h``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a duration such as 90s, 30m, 6h or 2d")
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    if value <= 0:
        raise ValueError("must be longer than zero")
    return float(value)


Duration = Annotated[float, BeforeValidator(duration_seconds)]


class WireSchema(StrEnum):
    """Which generation of the job config's shapes goes on the wire (docs/protocol.md §14.13).

    A property of the backend a worker talks to, so a deployment setting, not a spec field.
    """

    SDK = "sdk"  # what the published SDK sends: every value as the spec gives it
    CLOUD = "cloud"  # arkorlab/arkor PR #210: step settings and datasetSplit as objects


class StepCount(SpecModel):
    """``{steps: N}``: a number of steps."""

    steps: int


class StepRatio(SpecModel):
    """``{ratio: x}``: a fraction of the run's total steps."""

    ratio: float


# A bare whole number (the published SDK's form) or one of PR #210's objects.
StepSetting = int | StepCount | StepRatio
_STEP_FIELDS = ("warmup_steps", "logging_steps", "save_steps", "eval_steps")


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1


def step_setting(value: Any, least: int) -> StepSetting:
    """A bare step count or ``{steps: N}`` (``least`` or more), or ``{ratio: x}`` (0 < x <= 1)."""
    if isinstance(value, StepCount | StepRatio):  # a spec built in Python
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "steps" and _is_whole(inner) and inner >= least:
            return StepCount(steps=inner)
        if key == "ratio" and _is_fraction(inner):
            return StepRatio(ratio=float(inner))
    elif _is_whole(value) and value >= least:
        return int(value)
    raise ValueError(
        f"got {value!r}; write a whole number of steps ({least} or more), {{steps: N}}, "
        "or {ratio: x} with 0 < x <= 1 for a fraction of the run's total steps"
    )


class DatasetSplit(SpecModel):
    """PR #210's ``{enabled, testSize?, seed?}``: hold part of the dataset out for evaluation.

    The server's defaults are ``{enabled: false, testSize: 0.1, seed: 42}``; eval only runs
    when the split is enabled.
    """

    enabled: bool
    test_size: float | None = Field(default=None, gt=0, lt=1, description="fraction held out")
    seed: int | None = Field(default=None, ge=0, description="seed of the split's shuffle")


def _split_form(value: Any) -> str | None:
    if isinstance(value, Mapping | DatasetSplit):
        return "object"
    if isinstance(value, str | bool | int | float):
        return "value"
    return None


# The object form, or a bare value passed through unchanged as the published SDK does.
DatasetSplitSetting = Annotated[
    Annotated[DatasetSplit, Tag("object")] | Annotated[str | bool | int | float, Tag("value")],
    Discriminator(
        _split_form,
        custom_error_type="dataset_split",
        custom_error_message="write {enabled: true, testSize: 0.1, seed: 42} "
        "(testSize and seed optional), or a plain value passed to the backend as it is",
    ),
]


class DeadlinesSpec(SpecModel):
    """Limits after which the run is stopped and its backend job cancelled."""

    max_duration: Duration | None = Field(
        default=None, description="wall-clock limit from the run's start, e.g. 6h"
    )
    max_queued: Duration | None = Field(
        default=None, description="limit on waiting before training starts, e.g. 30m"
    )


class RollingMeanRule(SpecModel):
    window: int = Field(ge=2, le=1000)
    ceiling: float
    metric: Literal["loss", "evalLoss"] = "loss"


class PatienceRule(SpecModel):
    patience: int = Field(ge=1, le=10_000, description="observations without improvement")
    min_delta: float = Field(default=0.0, ge=0)
    metric: Literal["loss", "evalLoss"] = "evalLoss"


class EvalScoreBelowRule(SpecModel):
    threshold: float = Field(ge=0, le=1)
    after_step: int = Field(default=0, ge=0, description="only checkpoints at or after this step")


class StopRulesSpec(SpecModel):
    """Rules over logged metrics and checkpoint evaluations; the first that holds stops the run."""

    min_step: int = Field(default=0, ge=0, description="no rule fires before this step")
    loss_ceiling: float | None = Field(default=None, description="stop when loss exceeds this")
    non_finite_loss: bool = Field(default=False, description="stop on a NaN or infinite loss")
    rolling_mean: RollingMeanRule | None = None
    patience: PatienceRule | None = None
    eval_score_below: EvalScoreBelowRule | None = Field(
        default=None, description="stop when a checkpoint's eval score is below the threshold"
    )
    eval_patience: int | None = Field(
        default=None, ge=1, description="stop after this many checkpoints without a better score"
    )
    eval_drop: float | None = Field(
        default=None, gt=0, le=1, description="stop when a score falls this far below the best"
    )


class OrchestrationSpec(SpecModel):
    """How the workflow follows the job; defaults suit real cloud runs."""

    # 10 min: logs in the workflow are for the result and the curves; the live step and
    # loss travel in the stream's heartbeat details instead (no history events), and what
    # the workflow acts on (started, a checkpoint it evaluates or hooks, a log that trips a
    # stop rule) is relayed at once regardless (README, "History budget").
    metrics_flush_seconds: float = Field(
        default=600.0,
        gt=0,
        le=3600,
        description="longest a log event waits before reaching the workflow's history",
    )
    heartbeat_timeout_seconds: float = Field(
        default=30.0, ge=1, le=600, description="stream activity heartbeat timeout"
    )
    continue_as_new_after_events: int | None = Field(
        default=None,
        ge=20,
        description="continue as new past this many history events (Temporal's own "
        "suggestion is always honoured too)",
    )
    metrics_points: int = Field(
        default=256, ge=16, le=4096, description="points kept in the downsampled metrics series"
    )
    job_lost_after_seconds: float = Field(
        default=600.0,
        gt=0,
        description="how long the job's status may answer 404 before the run fails as JobLost",
    )


class RunSpec(SpecModel):
    """One training run, as a user writes it."""

    name: str = Field(min_length=1, max_length=120)
    model: str
    dataset: DatasetSpec
    lora: LoraSpec | None = None
    max_steps: int | None = Field(default=None, gt=0)
    num_train_epochs: int | float | None = Field(default=None, gt=0)
    learning_rate: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)
    optim: str | None = None
    lr_scheduler_type: str | None = None
    weight_decay: float | None = Field(default=None, ge=0)
    dry_run: bool | None = None
    warmup_steps: StepSetting | None = None
    logging_steps: StepSetting | None = None
    save_steps: StepSetting | None = None
    eval_steps: StepSetting | None = None
    dataset_split: DatasetSplitSetting | None = None
    gpu_types: list[str] | None = Field(
        default=None, description="GPU types the backend may run the job on"
    )
    # Passthrough fields: the backend owns their meaning, so they stay loose.
    train_on_responses_only: Any = None
    dataset_format: Any = None
    backend: dict[str, Any] = Field(
        default_factory=dict,
        description="extra job-config keys passed to the backend as they are "
        "(for example the emulator's scenario and fault switches)",
    )
    stop_rules: StopRulesSpec | None = None
    deadlines: DeadlinesSpec | None = None
    evals: EvalSuiteSpec | None = None
    hooks: HooksSpec | None = None
    notifications: list[NotificationSpec] = Field(default_factory=list)
    orchestration: OrchestrationSpec = Field(default_factory=OrchestrationSpec)

    @field_validator("model")
    @classmethod
    def _supported_model(cls, value: str) -> str:
        if value not in SUPPORTED_MODELS:
            raise ValueError(
                f"unsupported model {value!r}; this release supports: "
                + ", ".join(SUPPORTED_MODELS)
            )
        return value

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in "\r\n\t"):
            raise ValueError("must be a non-blank single line")
        return value

    @field_validator(*_STEP_FIELDS, mode="before")
    @classmethod
    def _step_setting(cls, value: Any, info: ValidationInfo) -> Any:
        # No warmup is a legal warmup; an interval of zero steps is not.
        least = 0 if info.field_name == "warmup_steps" else 1
        return None if value is None else step_setting(value, least)

    @field_validator("gpu_types")
    @classmethod
    def _gpu_type_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not all(name.strip() for name in value)):
            raise ValueError(
                "must list at least one GPU type name, each non-blank; "
                "remove gpuTypes to let the backend choose"
            )
        return value

    @field_validator("backend")
    @classmethod
    def _backend_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = set(_JOB_CONFIG_KEYS) | {MARKER_KEY}
        clash = sorted(reserved & set(value))
        if clash:
            raise ValueError(
                f"keys {clash} are set by the spec itself; move them to the top level of the spec"
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"must be plain JSON data ({exc})") from None
        return value

    @field_validator("backend", "train_on_responses_only", "dataset_format")
    @classmethod
    def _refuse_credentials_in_urls(cls, value: Any) -> Any:
        found = [
            f"{f'at {path}, ' if path else ''}{secrets.describe()}"
            for path, secrets in find_url_secrets(value)
        ]
        if found:
            raise ValueError(
                f"{'; '.join(found)}; {_STORED}, and its passthrough fields go to the backend "
                "as they are: remove the credentials (a secret reaches the backend only from "
                "the worker's environment, as a blob dataset's token does through "
                "dataset.tokenEnv)"
            )
        return value

    def job_config(self, wire_schema: WireSchema = WireSchema.SDK) -> dict[str, Any]:
        """The wire ``config`` for ``POST /v1/jobs``, built like ``createTrainer``.

        A field is sent only when set, as ``JSON.stringify`` drops ``undefined``.
        ``wire_schema`` picks the shapes of the step settings and ``datasetSplit``;
        a value the chosen schema cannot express raises :class:`SpecError`.
        The blob token is *not* included: the worker adds it from its environment.
        """
        config: dict[str, Any] = {
            "model": self.model,
            "datasetSource": self.dataset.model_dump(
                by_alias=True, exclude_none=True, exclude={"token_env"}
            ),
        }
        if self.lora is not None:
            config["loraR"] = self.lora.r
            config["loraAlpha"] = self.lora.alpha
            if self.lora.max_length is not None:
                config["maxLength"] = self.lora.max_length
            if self.lora.load_in_4bit is not None:
                config["loadIn4bit"] = self.lora.load_in_4bit
        for field in _TOP_LEVEL_FIELDS:
            value = getattr(self, field)
            if value is None:
                continue
            if field in _STEP_FIELDS:
                value = _step_on_wire(value, wire_schema)
            elif field == "dataset_split":
                value = self._split_on_wire(value, wire_schema)
            config[to_camel(field)] = value
        config.update(self.backend)
        return config

    def _split_on_wire(
        self, split: DatasetSplit | str | bool | float, wire_schema: WireSchema
    ) -> Any:
        if isinstance(split, DatasetSplit):
            return split.model_dump(by_alias=True, exclude_none=True)
        if wire_schema is WireSchema.SDK:
            return split
        if isinstance(split, bool):
            return {"enabled": split}
        raise SpecError(
            f"run {self.name!r}",
            [
                f"datasetSplit: {split!r} has no form in the cloud wire schema this worker "
                "sends; write it as {enabled: true, testSize: 0.1, seed: 42} "
                "(testSize and seed optional)"
            ],
        )

    @property
    def blob_token_env(self) -> str | None:
        return self.dataset.token_env if isinstance(self.dataset, BlobDatasetSpec) else None


def _step_on_wire(setting: StepSetting, wire_schema: WireSchema) -> Any:
    if isinstance(setting, StepCount | StepRatio):
        return setting.model_dump()
    return {"steps": setting} if wire_schema is WireSchema.CLOUD else setting


_TOP_LEVEL_FIELDS = (
    "max_steps",
    "num_train_epochs",
    "learning_rate",
    "batch_size",
    "optim",
    "lr_scheduler_type",
    "weight_decay",
    "warmup_steps",
    "logging_steps",
    "save_steps",
    "eval_steps",
    "train_on_responses_only",
    "dataset_format",
    "dataset_split",
    "gpu_types",
    "dry_run",
)
_JOB_CONFIG_KEYS = (
    "model",
    "datasetSource",
    "loraR",
    "loraAlpha",
    "maxLength",
    "loadIn4bit",
    *(to_camel(f) for f in _TOP_LEVEL_FIELDS),
)


class SpecError(ValueError):
    """A spec that cannot run; each problem names its field and the fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid run spec {source}:\n" + "\n".join(f"  - {p}" for p in problems))


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"{location}: unknown field; check its spelling (camelCase, as in createTrainer)"
    if kind == "missing":
        return f"{location}: required field is missing; add it to the spec"
    return f"{location or '(spec)'}: {message}"


def parse_spec(data: Any, source: str = "<spec>") -> RunSpec:
    """Validate already-loaded spec data, raising :class:`SpecError` on any problem."""
    if not isinstance(data, Mapping):
        raise SpecError(source, ["(spec): must be a mapping of fields, such as name: and model:"])
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, [_describe(e) for e in exc.errors()]) from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML scalars) to spec data."""
    result: dict[str, Any] = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SpecError("--set", [f"{item!r}: expected KEY=VALUE, for example maxSteps=200"])
        target = result
        parts = key.split(".")
        for part in parts[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise SpecError("--set", [f"{key}: {part} is not a section"])
            target = node
        target[parts[-1]] = yaml.safe_load(raw)
    return result


def load_spec_data(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON spec file into plain data."""
    if not path.is_file():
        raise SpecError(str(path), ["file not found; pass the path of a YAML or JSON spec"])
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(str(path), [f"(file): not valid YAML/JSON: {exc}"]) from None
    if not isinstance(data, dict):
        raise SpecError(
            str(path), ["(spec): must be a mapping of fields, such as name: and model:"]
        )
    return data


def load_spec(path: Path, overrides: list[str] | None = None) -> RunSpec:
    data = load_spec_data(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return parse_spec(data, str(path))
