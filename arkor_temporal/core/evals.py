"""Evaluation suites: cases in the spec, deterministic scoring, per-checkpoint results.

A suite is a list of chat cases run against each checkpoint adapter (and, on
request, the base model). Generation settings are passed to the backend as
docs/protocol.md §5.1 defines them. Each case's answer is scored by its expectation:

* ``exact``: the answer equals ``value`` (stripped, case-sensitive by default);
* ``contains``: ``value``, or all of ``values``, appear (partial credit per value);
* ``regex``: ``pattern`` matches (``fullMatch: true`` for the whole answer);
* ``jsonSchema``: the answer parses as JSON and validates against ``schema``;
* ``choice``: the answer is one of ``choices`` and equals ``answer``;
* ``custom``: ``importPath`` names ``f(content, case) -> bool | float | ScoreResult``;
  ``params`` (any JSON) reaches it as ``case.expect.params``.

The scored text is the message content or, when the model answered with tool
calls, the first call's ``function.arguments`` (a JSON string), so a
``jsonSchema`` expectation checks a tool call's arguments.

Everything here is pure and deterministic (custom scorers aside, which are the
user's): the activity does the I/O and hands the answers to :func:`summarize`.
Result models travel through Temporal payloads, so they stay small: samples are
truncated and no model output is kept beyond them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from jsonschema.exceptions import SchemaError, best_match
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arkor_temporal.core.adapters import adapter_reference
from arkor_temporal.core.imports import check_import_path, resolve_callable
from arkor_temporal.core.spec_base import SpecModel

SAMPLE_CHARS = 200
_DETAIL_CHARS = 200
_ROLES = ("system", "user", "assistant", "tool")
_STRUCTURED_KEYS = ("json", "regex", "choice", "grammar", "json_object")
_TOOL_CHOICES = ("auto", "none", "required")
# The case fields sent with its inference request (docs/protocol.md §5.1, §14.13).
_GENERATION_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "stream_options",
    "enable_thinking",
    "reasoning_effort",
)


def clip(text: str, limit: int = SAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CaseScore(BaseModel):
    """The verdict on one answer; custom scorers may return it as ``ScoreResult``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    score: float = Field(ge=0, le=1)
    detail: str = ""

    @classmethod
    def of(cls, passed: bool, why_not: str = "") -> CaseScore:
        """A pass/fail verdict; ``why_not`` is kept only when it failed."""
        detail = "" if passed else clip(why_not, _DETAIL_CHARS)
        return cls(passed=passed, score=1.0 if passed else 0.0, detail=detail)


ScoreResult = CaseScore


# --- expectations ---------------------------------------------------------------------------


class _Expectation(SpecModel):
    def check(self) -> None:
        """Checks beyond types; raise ValueError naming the field and the fix."""

    def score(self, text: str, case: EvalCase) -> CaseScore:
        raise NotImplementedError


def _normalise(text: str, *, case_sensitive: bool, strip: bool = False) -> str:
    text = text.strip() if strip else text
    return text if case_sensitive else text.casefold()


class ExactExpectation(_Expectation):
    type: Literal["exact"]
    value: str
    case_sensitive: bool = True
    strip: bool = True

    def score(self, text: str, case: EvalCase) -> CaseScore:
        def norm(s: str) -> str:
            return _normalise(s, case_sensitive=self.case_sensitive, strip=self.strip)

        return CaseScore.of(
            norm(text) == norm(self.value),
            f"expected {clip(self.value, 60)!r}, got {clip(text, 60)!r}",
        )


class ContainsExpectation(_Expectation):
    type: Literal["contains"]
    value: str | None = None
    values: list[str] | None = None
    case_sensitive: bool = True

    @property
    def needles(self) -> list[str]:
        return [self.value] if self.value is not None else list(self.values or [])

    def check(self) -> None:
        if (self.value is None) == (self.values is None):
            raise ValueError(
                "expect: set exactly one of value (a string) or values (a list; all must appear)"
            )
        if not self.needles or not all(self.needles):
            raise ValueError("expect: contains needs non-empty strings to look for")

    def score(self, text: str, case: EvalCase) -> CaseScore:
        haystack = _normalise(text, case_sensitive=self.case_sensitive)
        missing = [
            n
            for n in self.needles
            if _normalise(n, case_sensitive=self.case_sensitive) not in haystack
        ]
        found = len(self.needles) - len(missing)
        detail = "" if not missing else "missing " + ", ".join(repr(clip(m, 40)) for m in missing)
        return CaseScore(
            passed=not missing,
            score=found / len(self.needles),
            detail=clip(detail, _DETAIL_CHARS),
        )


class RegexExpectation(_Expectation):
    type: Literal["regex"]
    pattern: str
    full_match: bool = False

    def check(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(
                f"expect.pattern {self.pattern!r} is not a valid regular expression ({exc}); "
                "fix it (Python re syntax; in YAML single-quote it so backslashes stay)"
            ) from None

    def score(self, text: str, case: EvalCase) -> CaseScore:
        compiled = re.compile(self.pattern)
        match = compiled.fullmatch(text) if self.full_match else compiled.search(text)
        how = "fully match" if self.full_match else "match"
        return CaseScore.of(match is not None, f"does not {how} /{clip(self.pattern, 80)}/")


class JsonSchemaExpectation(_Expectation):
    type: Literal["jsonSchema"]
    json_schema: dict[str, Any] = Field(alias="schema")

    def check(self) -> None:
        try:
            validator_for(self.json_schema).check_schema(self.json_schema)
        except SchemaError as exc:
            where = exc.json_path if exc.path else "the top level"
            raise ValueError(
                f"expect.schema is not a valid JSON Schema ({exc.message} at {where}); "
                "fix the schema"
            ) from None

    def score(self, text: str, case: EvalCase) -> CaseScore:
        try:
            document = json.loads(text)
        except ValueError as exc:
            return CaseScore.of(False, f"not JSON ({exc})")
        cls = validator_for(self.json_schema)
        validator = cls(self.json_schema, format_checker=cls.FORMAT_CHECKER)
        error = best_match(validator.iter_errors(document))
        why_not = f"schema violation at {error.json_path}: {error.message}" if error else ""
        return CaseScore.of(error is None, why_not)


class ChoiceExpectation(_Expectation):
    type: Literal["choice"]
    choices: list[str] = Field(min_length=1)
    answer: str

    def check(self) -> None:
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("expect.choices lists a choice twice; list each once")
        if self.answer not in self.choices:
            raise ValueError(
                f"expect.answer {self.answer!r} is not one of expect.choices; add it or fix it"
            )

    def score(self, text: str, case: EvalCase) -> CaseScore:
        chosen = text.strip()
        if chosen not in self.choices:
            return CaseScore.of(False, f"{clip(chosen, 60)!r} is not one of the choices")
        return CaseScore.of(chosen == self.answer, f"chose {chosen!r}, expected {self.answer!r}")


class CustomExpectation(_Expectation):
    type: Literal["custom"]
    import_path: str
    pass_score: float = Field(
        default=0.5, ge=0, le=1, description="a numeric score passes at or above this"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="JSON data for the scorer, as case.expect.params"
    )

    def check(self) -> None:
        try:
            check_import_path(self.import_path)
        except ValueError as exc:
            raise ValueError(f"expect.importPath: {exc}") from None

    def score(self, text: str, case: EvalCase) -> CaseScore:
        try:
            raw = resolve_callable(self.import_path)(text, case)
            return self._coerce(raw)
        except Exception as exc:  # user code: a crash fails the case, never the evaluation
            return CaseScore.of(False, f"custom scorer raised {type(exc).__name__}: {exc}")

    def _coerce(self, raw: Any) -> CaseScore:
        if isinstance(raw, CaseScore):
            return raw
        if isinstance(raw, bool):
            return CaseScore.of(raw)
        if isinstance(raw, int | float) and math.isfinite(raw) and 0 <= raw <= 1:
            return CaseScore(passed=raw >= self.pass_score, score=float(raw))
        return CaseScore.of(
            False,
            f"custom scorer returned {clip(repr(raw), 60)}; "
            "return a bool, a number in [0, 1] or a ScoreResult",
        )


Expectation = Annotated[
    ExactExpectation
    | ContainsExpectation
    | RegexExpectation
    | JsonSchemaExpectation
    | ChoiceExpectation
    | CustomExpectation,
    Field(discriminator="type"),
]
_EXPECTATION_TYPES = ("exact", "contains", "regex", "jsonSchema", "choice", "custom")


# --- cases and suites -----------------------------------------------------------------------


class EvalCase(SpecModel):
    """One prompt, its generation settings (docs/protocol.md §5.1, passed through) and its check."""

    name: str = Field(min_length=1, max_length=100)
    messages: list[dict[str, Any]] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    response_format: dict[str, Any] | None = None
    structured_outputs: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    tool_choice: str | dict[str, Any] | None = None
    # Forwarded by the SDK since PR #210 (docs/protocol.md §14.13); the backend owns them.
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = Field(
        default=None, description="token id (a string) to bias"
    )
    stream_options: dict[str, Any] | None = None
    enable_thinking: bool | None = None
    reasoning_effort: str | None = None
    expect: Expectation
    weight: float = Field(default=1.0, gt=0, le=1000)

    def generation_settings(self) -> dict[str, Any]:
        """The settings that are set, keyed as the client's ``ChatRequest`` fields."""
        return self.model_dump(include=set(_GENERATION_FIELDS), exclude_none=True)

    @field_validator("messages")
    @classmethod
    def _messages(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            problem = _message_problem(message)
            if problem:
                raise ValueError(f"messages[{index}]: {problem}")
        return messages

    @field_validator("expect", mode="before")
    @classmethod
    def _expectation_type(cls, value: Any) -> Any:
        # Named here because the discriminator's own error gives no hint of the choices.
        if isinstance(value, Mapping) and value.get("type") not in _EXPECTATION_TYPES:
            raise ValueError(
                f"type {value.get('type')!r} is not known; use one of "
                + ", ".join(_EXPECTATION_TYPES)
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EvalCase:
        try:
            _check_generation(self)
            self.expect.check()
        except ValueError as exc:
            raise ValueError(f"case {self.name!r}: {exc}") from None
        return self


def _message_problem(message: Mapping[str, Any]) -> str | None:
    role = message.get("role")
    if role not in _ROLES:
        return f"role {role!r} is not one of {', '.join(_ROLES)}"
    content = message.get("content")
    if role in ("system", "user") and not isinstance(content, str | list):
        return f"a {role} message needs content (a string or a list of parts)"
    if role == "assistant" and content is None and not message.get("tool_calls"):
        return "an assistant message needs content or tool_calls"
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        return "a tool message needs tool_call_id"
    return None


def _check_generation(case: EvalCase) -> None:
    """Cheap shape checks of the passthrough knobs: what the backend would refuse with a 400."""
    _check_tools(case.tools or [], case.tool_choice)
    _check_constraints(case.response_format, case.structured_outputs)


def _function_name(value: Mapping[str, Any]) -> Any:
    function = value.get("function")
    return function.get("name") if isinstance(function, Mapping) else None


def _check_tools(tools: list[dict[str, Any]], choice: str | dict[str, Any] | None) -> None:
    if any(tool.get("type") != "function" or not _function_name(tool) for tool in tools):
        raise ValueError('tools: each tool is {"type": "function", "function": {"name": ...}}')
    if isinstance(choice, str) and choice not in _TOOL_CHOICES:
        raise ValueError(f"toolChoice {choice!r}: use auto, none, required or a named function")
    if choice not in (None, "auto", "none") and not tools:
        raise ValueError("toolChoice needs tools; add tools or remove toolChoice")
    if isinstance(choice, Mapping) and (
        choice.get("type") != "function"
        or _function_name(choice) not in {_function_name(tool) for tool in tools}
    ):
        raise ValueError(
            'toolChoice must be {"type": "function", "function": {"name": NAME}} '
            "naming one of the tools"
        )


def _check_constraints(
    response_format: dict[str, Any] | None, structured_outputs: dict[str, Any] | None
) -> None:
    format_type = (response_format or {}).get("type")
    if response_format is not None and format_type not in ("text", "json_object", "json_schema"):
        raise ValueError("responseFormat.type must be text, json_object or json_schema")
    if format_type == "json_schema":
        json_schema = (response_format or {}).get("json_schema")
        if not isinstance(json_schema, Mapping) or not isinstance(
            json_schema.get("schema"), Mapping
        ):
            raise ValueError("responseFormat.json_schema.schema must be an object (a JSON Schema)")
    if structured_outputs is None:
        return
    present = [k for k in _STRUCTURED_KEYS if structured_outputs.get(k) not in (None, False)]
    if len(present) != 1:
        raise ValueError("structuredOutputs needs exactly one of " + ", ".join(_STRUCTURED_KEYS))
    if format_type in ("json_object", "json_schema"):
        raise ValueError(
            "structuredOutputs cannot be combined with a responseFormat constraint; keep one"
        )


class EvalSuiteSpec(SpecModel):
    """The cases run against every checkpoint, and how the evaluations are run."""

    cases: list[EvalCase] = Field(min_length=1, max_length=200)
    compare_base_model: bool = Field(
        default=False, description="also run the cases on the base model and record the delta"
    )
    concurrency: int = Field(default=2, ge=1, le=16, description="evaluations in flight per run")
    case_concurrency: int = Field(
        default=4, ge=1, le=32, description="inference requests in flight per evaluation"
    )
    timeout_seconds: float = Field(
        default=120, gt=0, le=3600, description="start-to-close timeout of one evaluation attempt"
    )
    pass_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="an evaluation passes when its score reaches this; unset: when every case "
        "passes",
    )

    @field_validator("cases")
    @classmethod
    def _unique_names(cls, cases: list[EvalCase]) -> list[EvalCase]:
        names = [case.name for case in cases]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate case names {duplicates}; give every case a unique name")
        return cases


# --- scoring --------------------------------------------------------------------------------


def scored_text(content: str | None, tool_calls: Sequence[Mapping[str, Any]] | None) -> str:
    """The content, or the first tool call's arguments when the model called a tool."""
    if content:
        return content
    for call in tool_calls or ():
        arguments = (call.get("function") or {}).get("arguments")
        if isinstance(arguments, str):
            return arguments
    return ""


def score_case(
    case: EvalCase, content: str | None, tool_calls: Sequence[Mapping[str, Any]] | None = None
) -> CaseScore:
    """Score one answer; pure and deterministic for the built-in expectations."""
    return case.expect.score(scored_text(content, tool_calls), case)


def sample_of(content: str | None, tool_calls: Sequence[Mapping[str, Any]] | None) -> str:
    if not content and tool_calls:
        name = (tool_calls[0].get("function") or {}).get("name", "?")
        return clip(f"{name}({scored_text(None, tool_calls)})")
    return clip(content or "")


# --- results --------------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseResult(_Result):
    name: str
    passed: bool
    score: float
    sample: str = Field(default="", description=f"the answer, cut to {SAMPLE_CHARS} characters")
    detail: str = ""
    error: str | None = Field(default=None, description="inference error for this case")
    base_passed: bool | None = None
    base_score: float | None = None
    base_error: str | None = None


class CheckpointEval(_Result):
    step: int
    adapter: dict[str, Any] = Field(description="the wire adapter reference, ready to deploy")
    score: float | None = Field(description="weighted mean of case scores; None when errored")
    passed: bool
    total: int
    base_score: float | None = None
    delta: float | None = Field(default=None, description="score minus base_score")
    cases: list[CaseResult] = Field(default_factory=list)
    error: str | None = None
    duration_seconds: float = 0.0

    @property
    def passed_cases(self) -> int:
        return sum(case.passed for case in self.cases)

    @classmethod
    def errored(cls, eval_input: EvalInput, error: str) -> CheckpointEval:
        """The record of an evaluation that could not run (retries exhausted)."""
        return cls(
            step=eval_input.step,
            adapter=eval_input.adapter,
            score=None,
            passed=False,
            total=len(eval_input.suite.cases),
            error=clip(error, 500),
        )


class EvalInput(_Result):
    job_id: str
    step: int
    suite: EvalSuiteSpec
    base_model: str = Field(description="the spec's model, used when compareBaseModel is set")
    kind: Literal["checkpoint", "final"] = "checkpoint"

    @property
    def adapter(self) -> dict[str, Any]:
        return adapter_reference(self.job_id, None if self.kind == "final" else self.step)


@dataclass(frozen=True)
class Answer:
    """What inference produced for one case: a message, or the error that prevented it."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    error: str | None = None


def _judge(case: EvalCase, answer: Answer) -> CaseScore:
    if answer.error is not None:
        return CaseScore.of(False)
    return score_case(case, answer.content, answer.tool_calls)


def _clip_error(error: str | None) -> str | None:
    return clip(error) if error is not None else None


def _weighted_mean(cases: Sequence[EvalCase], scores: Sequence[float]) -> float:
    total = sum(case.weight for case in cases)
    return sum(case.weight * score for case, score in zip(cases, scores, strict=True)) / total


def summarize(
    eval_input: EvalInput,
    answers: Sequence[Answer],
    base_answers: Sequence[Answer] | None = None,
    duration_seconds: float = 0.0,
) -> CheckpointEval:
    """Score every answer (in suite order) and aggregate them into one evaluation.

    A case whose inference failed scores 0. When every case failed, no
    measurement was made: the evaluation carries ``error`` and no score, so it
    can neither be the best checkpoint nor look like a regression.
    """
    suite = eval_input.suite
    own = [_judge(case, answer) for case, answer in zip(suite.cases, answers, strict=True)]
    results = [
        CaseResult(
            name=case.name,
            passed=verdict.passed,
            score=verdict.score,
            sample=sample_of(answer.content, answer.tool_calls),
            detail=verdict.detail,
            error=_clip_error(answer.error),
        )
        for case, answer, verdict in zip(suite.cases, answers, own, strict=True)
    ]
    base: list[CaseScore] | None = None
    if base_answers is not None:
        base = [_judge(c, a) for c, a in zip(suite.cases, base_answers, strict=True)]
        for result, verdict, answer in zip(results, base, base_answers, strict=True):
            result.base_passed = verdict.passed
            result.base_score = verdict.score
            result.base_error = _clip_error(answer.error)
    base_score = _weighted_mean(suite.cases, [v.score for v in base]) if base else None
    errors = [answer.error for answer in answers if answer.error is not None]
    if len(errors) == len(answers):
        evaluation = CheckpointEval.errored(eval_input, f"every case failed: {errors[0]}")
        return evaluation.model_copy(
            update={
                "cases": results,
                "base_score": base_score,
                "duration_seconds": duration_seconds,
            }
        )
    score = _weighted_mean(suite.cases, [v.score for v in own])
    passed = (
        score >= suite.pass_threshold
        if suite.pass_threshold is not None
        else all(v.passed for v in own)
    )
    return CheckpointEval(
        step=eval_input.step,
        adapter=eval_input.adapter,
        score=score,
        passed=passed,
        total=len(results),
        base_score=base_score,
        delta=score - base_score if base_score is not None else None,
        cases=results,
        duration_seconds=duration_seconds,
    )


# --- views ----------------------------------------------------------------------------------


def best_checkpoint(evals: Sequence[CheckpointEval]) -> CheckpointEval | None:
    """Highest score, the earliest step on ties; errored evaluations never count."""
    scored = [e for e in evals if e.error is None and e.score is not None]
    return min(scored, key=lambda e: (-(e.score or 0.0), e.step), default=None)
