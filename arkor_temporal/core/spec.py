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

import copy
import difflib
import io
import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic.fields import FieldInfo

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


Duration = Annotated[
    float,
    BeforeValidator(duration_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[smhdwSMHDW]\s*)+$"},
            ]
        },
        mode="validation",
    ),
]


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


# --- error rendering -------------------------------------------------------------------------


def _members(annotation: Any) -> list[Any]:
    """``annotation`` with ``Annotated``, ``Optional`` and unions taken apart."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return [member for arg in get_args(annotation) for member in _members(arg)]
    return [annotation]


def _models(types: list[Any]) -> list[type[BaseModel]]:
    members = [member for annotation in types for member in _members(annotation)]
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def _field(model: type[BaseModel], key: object) -> tuple[str, FieldInfo] | None:
    """The field ``key`` names in ``model`` (by its snake_case name or its camelCase alias)."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name, info
    return None


def _inside(types: list[Any], part: object) -> list[Any]:
    """What the value under ``part`` of a value of one of ``types`` may be; [] if no such key."""
    found: list[Any] = []
    for member in (member for annotation in types for member in _members(annotation)):
        origin, args = get_origin(member), get_args(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            field = _field(member, part)
            if field is not None:
                found.append(field[1].annotation)
        elif origin in (list, tuple, set, frozenset, Sequence) and isinstance(part, int):
            found.append(args[0] if args else Any)
        elif origin in (dict, Mapping) or member is Any:
            found.append(args[1] if len(args) == 2 else Any)
    return found


def _tagged(types: list[Any], tag: object) -> list[Any]:
    """The union members a tag in pydantic's location picks (a discriminator value, a class)."""
    picked = [
        model
        for model in _models(types)
        if tag == model.__name__
        or any(
            get_origin(info.annotation) is Literal and tag in get_args(info.annotation)
            for info in model.model_fields.values()
        )
    ]
    return picked or types


def _place(loc: tuple[int | str, ...], ends_in_key: bool) -> tuple[str, list[type[BaseModel]]]:
    """Where an error is, as the spec writes it, and the models of the mapping holding it.

    pydantic's locations also name the union member it tried (``dataset.huggingface.name``,
    ``datasetSplit.object.seed``, ``function-after[...]``): those parts are dropped, so the
    location is a path in the user's file (``dataset.name``). ``ends_in_key``: the last part is
    a key of the input even though no field has that name (an unknown field).
    """
    path: list[str] = []
    types: list[Any] = [RunSpec]
    for index, part in enumerate(loc):
        if ends_in_key and index == len(loc) - 1:
            path.append(str(part))
            break
        inner = _inside(types, part)
        if inner:
            path.append(str(part))
            types = inner
        else:
            types = _tagged(types, part)
    holders = _models(types) if ends_in_key else []
    return ".".join(path) or "(spec)", holders


def _folded(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _close_fields(key: str, models: list[type[BaseModel]]) -> list[str]:
    """The fields ``key`` may have meant, as camelCase (how specs spell them)."""
    spellings: dict[str, str] = {}
    for model in models:
        for name, info in model.model_fields.items():
            alias = info.alias or name
            spellings.setdefault(_folded(alias), alias)
            spellings.setdefault(_folded(name), alias)
    folded = _folded(key)
    if folded in spellings:  # maxsteps, Max_Steps, max-steps
        return [spellings[folded]]
    close = difflib.get_close_matches(folded, list(spellings), n=3, cutoff=0.7)
    if len(folded) >= 4:  # timeout: timeoutSeconds
        close += [spelling for spelling in spellings if spelling.startswith(folded)]
    return list(dict.fromkeys(spellings[match] for match in close))[:3]


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _unknown_field(key: object, models: list[type[BaseModel]]) -> str:
    for model in models:
        field = _field(model, key)
        # A field's name counts as unknown when its other spelling came too.
        if field is not None and field[1].alias not in (None, field[0]):
            name, info = field
            other = info.alias if key == name else name
            return (
                f"given twice, as {other} and as {key} (camelCase and snake_case name the same "
                "field); keep one of them"
            )
    if isinstance(key, bool):
        return (
            "unknown field: a YAML 1.1 reader turned a bare on/off/yes/no key into a boolean; "
            "read the file with load_spec (YAML 1.2), or quote the key ('on':)"
        )
    suggestions = _close_fields(str(key), models)
    if suggestions:
        return f"unknown field; did you mean {_either(suggestions)}?"
    return "unknown field; check its spelling (camelCase, as in createTrainer)"


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    location, holders = _place(tuple(error["loc"]), ends_in_key=kind == "extra_forbidden")
    if kind == "extra_forbidden":
        return f"{location}: {_unknown_field(error['loc'][-1], holders)}"
    if kind == "missing":
        return f"{location}: required field is missing; add it to the spec"
    return f"{location}: {str(error['msg']).removeprefix('Value error, ')}"


def parse_spec(data: Any, source: str = "<spec>") -> RunSpec:
    """Validate already-loaded spec data, raising :class:`SpecError` on any problem."""
    if not isinstance(data, Mapping):
        raise SpecError(source, ["(spec): must be a mapping of fields, such as name: and model:"])
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        problems = dict.fromkeys(_describe(error) for error in exc.errors())
        raise SpecError(source, list(problems)) from None


# --- reading spec files ----------------------------------------------------------------------

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading plain scalars as YAML 1.2 does (and so editors do).

    PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans too: a
    notification's ``on:`` key became ``True``. Here only ``true`` and ``false`` (any case
    form YAML 1.2 allows) are booleans, and a date stays text (JSON, and so Temporal, has no
    dates; no spec field takes one). A key given twice in one mapping is an error instead of
    the last one silently winning (keys brought in by a ``<<:`` merge may still be overridden).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "in the mapping",
                        node.start_mark,
                        f"found the key {key!r} twice; keep one of them",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _NamedText(io.StringIO):
    """Text PyYAML reads under a name of ours: its errors say the file, not <unicode string>."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


def read_yaml(text: str, name: str = "<spec>") -> Any:
    """YAML text as plain data, read as :class:`SpecLoader` does; ``name`` is for its errors."""
    return yaml.load(_NamedText(text, name), Loader=SpecLoader)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error on one line: ``file:line:column: problem (context at line:column)``."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        text = f"{mark.name}:{mark.line + 1}:{mark.column + 1}: {exc.problem}"
        if exc.context:
            start = exc.context_mark
            at = "" if start is None else f" starting at {start.line + 1}:{start.column + 1}"
            text += f" ({exc.context}{at})"
        return text
    return " ".join(str(exc).split())


def _override_value(key: str, raw: str) -> Any:
    try:
        return read_yaml(raw, f"--set {key}")
    except yaml.YAMLError as exc:
        problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else None
        raise SpecError(
            "--set",
            [
                f"{key}: {raw!r} is not a YAML value ({problem or _yaml_problem(exc)}); to give "
                f"it as text, quote it: --set '{key}=\"{raw}\"'"
            ],
        ) from None


def _spelled(section: Mapping[str, Any], part: str) -> str:
    """The key of ``section`` that ``part`` names: ``max_steps`` overrides a file's ``maxSteps``."""
    if part in section:
        return part
    for other in (to_camel(part), to_snake(part)):
        if other in section:
            return other
    return part


def apply_overrides(data: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides to a copy of spec data.

    Each value is read as YAML, as the file is (``200``, ``true``, ``[failed]``, ``{steps: 5}``);
    a missing section is created; a number picks a list's entry (``notifications.0.on=[failed]``);
    a key the spec spells the other way (camelCase / snake_case) is replaced, not doubled.
    """
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.split(".")
        if not sep or not all(parts):
            raise SpecError("--set", [f"{item!r}: expected KEY=VALUE, for example maxSteps=200"])
        value = _override_value(key, raw)
        node: Any = result
        for depth, part in enumerate(parts):
            above = ".".join(parts[:depth])
            slot: str | int
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    last = f"from 0 to {len(node) - 1}" if node else "none: the list is empty"
                    raise SpecError("--set", [f"{key}: {above} is a list; its entries are {last}"])
                slot = int(part)
            elif isinstance(node, dict):
                slot = _spelled(node, part)
            else:
                raise SpecError("--set", [f"{key}: {above} is not a section"])
            if depth == len(parts) - 1:
                node[slot] = value
            else:
                if isinstance(node, dict) and node.get(slot) is None:
                    node[slot] = {}
                node = node[slot]
    return result


def load_spec_data(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON spec file into plain data."""
    source = str(path)
    if not path.is_file():
        raise SpecError(source, ["file not found; pass the path of a YAML or JSON spec"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            source, [f"(file): not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"]
        ) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"{source}:{exc.lineno}:{exc.colno}: {exc.msg}"
            raise SpecError(source, [f"(file): not valid JSON: {problem}"]) from None
    else:
        try:
            data = read_yaml(text, source)
        except yaml.YAMLError as exc:
            raise SpecError(source, [f"(file): not valid YAML: {_yaml_problem(exc)}"]) from None
    if not isinstance(data, dict):
        raise SpecError(source, ["(spec): must be a mapping of fields, such as name: and model:"])
    return data


def load_spec(path: Path, overrides: list[str] | None = None) -> RunSpec:
    data = load_spec_data(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return parse_spec(data, str(path))


def spec_data(spec: RunSpec) -> dict[str, Any]:
    """The spec as the workflow receives it (camelCase, defaults filled in), unset fields left out.

    Read back with :func:`parse_spec`, it gives the same spec.
    """
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- JSON Schema -----------------------------------------------------------------------------

# VS Code's YAML extension (yaml-language-server) validates with draft-07 only.
SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
_SCHEMA_DESCRIPTION = (
    "An arkor-temporal run spec: one Arkor fine-tuning run (every createTrainer field, "
    "camelCase as in the SDK; snake_case is accepted too) and how its Temporal workflow "
    "orchestrates it. Check a file with `arkor-temporal spec check FILE`."
)
# Descriptions of the top-level fields that carry none of their own.
_FIELD_HELP = {
    "name": "the run's name, one line: the ArkorRunName search attribute and the workflow id "
    "train-<name>-<time>; a scheduled run may use {date}, {time}, {datetime}, {timestamp}",
    "model": "the base model to fine-tune",
    "dataset": "the training data: a Hugging Face dataset or a file behind a URL",
    "lora": "the LoRA adapter: r and alpha, optionally maxLength and loadIn4bit",
    "maxSteps": "training steps",
    "numTrainEpochs": "passes over the dataset",
    "learningRate": "the optimizer's learning rate",
    "batchSize": "examples per training step",
    "optim": "the optimizer, e.g. adamw_8bit",
    "lrSchedulerType": "the learning-rate schedule, e.g. linear",
    "weightDecay": "weight decay",
    "dryRun": "ask the backend for a dry run",
    "warmupSteps": "warm-up: a number of steps, {steps: N}, or {ratio: x} of the run's steps",
    "loggingSteps": "log every N steps: a number, {steps: N} or {ratio: x}",
    "saveSteps": "save a checkpoint every N steps: a number, {steps: N} or {ratio: x}",
    "evalSteps": "evaluate every N steps: a number, {steps: N} or {ratio: x}",
    "datasetSplit": "hold part of the dataset out for evaluation: {enabled, testSize?, seed?}, "
    "or a plain value passed to the backend as it is",
    "trainOnResponsesOnly": "passed to the backend as it is",
    "datasetFormat": "passed to the backend as it is, e.g. {type: chatml}",
    "stopRules": "rules over logged metrics and evaluations; the first that holds stops the run",
    "deadlines": "limits after which the run is stopped and its job cancelled",
    "evals": "evaluation cases run against checkpoints while the run trains",
    "hooks": "your functions, run on the worker at the run's events",
    "notifications": "Slack, Discord or webhook messages on the run's outcomes",
    "orchestration": "how the workflow follows the job; the defaults suit real cloud runs",
}
# What a model's own before-validator accepts besides its fields: HookSpec._shorthand
# (core/hooks.py) takes a bare import path for {importPath: ...}.
_SHORTHANDS = {"HookSpec": "importPath"}


def _spec_models(model: type[BaseModel], found: dict[str, type[BaseModel]]) -> None:
    if model.__name__ in found:
        return
    found[model.__name__] = model
    pending = [info.annotation for info in model.model_fields.values()]
    while pending:
        annotation = pending.pop()
        for member in _members(annotation):
            if isinstance(member, type) and issubclass(member, BaseModel):
                _spec_models(member, found)
            else:
                pending.extend(get_args(member))


def _add_snake_case(target: dict[str, Any], model: type[BaseModel]) -> None:
    """Let ``target``, the schema of ``model``, take each field's snake_case spelling too."""
    twins = {
        info.alias: field
        for field, info in model.model_fields.items()
        if info.alias and info.alias != field and info.alias in target["properties"]
    }
    if not twins:
        return
    target["patternProperties"] = {
        f"^{re.escape(field)}$": target["properties"][alias] for alias, field in twins.items()
    }
    required = target.get("required", [])
    either = [
        {"anyOf": [{"required": [alias]}, {"required": [twins[alias]]}]}
        for alias in required
        if alias in twins
    ]
    if either:
        target["required"] = [alias for alias in required if alias not in twins]
        if not target["required"]:
            del target["required"]
        target["allOf"] = [*target.get("allOf", []), *either]


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file, for editors and linters (draft-07).

    pydantic's schema of :class:`RunSpec` by alias, plus what the validators take that the
    annotations do not say: snake_case spellings (as ``patternProperties``, so they validate
    without doubling an editor's completions), a hook given as its bare import path, and the
    supported models.
    """
    schema = RunSpec.model_json_schema(by_alias=True)
    definitions = schema.setdefault("$defs", {})
    models: dict[str, type[BaseModel]] = {}
    _spec_models(RunSpec, models)
    for name, model in models.items():
        target = schema if model is RunSpec else definitions.get(name)
        if target is None or "properties" not in target:
            continue
        _add_snake_case(target, model)
    for name, key in _SHORTHANDS.items():
        if name in definitions:
            full = definitions[name]
            shorthand = {"type": "string", "description": f"shorthand for {{{key}: ...}}"}
            definitions[name] = {
                **{word: full.pop(word) for word in ("title", "description") if word in full},
                "anyOf": [shorthand, full],
            }
    properties = schema["properties"]
    properties["model"]["enum"] = list(SUPPORTED_MODELS)
    for field, text in _FIELD_HELP.items():
        properties[field].setdefault("description", text)
    head = {
        "$schema": SCHEMA_DIALECT,
        "title": "Arkor run spec",
        "description": _SCHEMA_DESCRIPTION,
    }
    return head | {word: value for word, value in schema.items() if word not in head}
