"""Eval suites in the spec and their scoring: pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio import workflow
from temporalio.contrib.pydantic import pydantic_data_converter

from arkor_temporal.core.evals import (
    Answer,
    CaseResult,
    CheckpointEval,
    EvalCase,
    EvalInput,
    EvalSuiteSpec,
    best_checkpoint,
    sample_of,
    score_case,
    summarize,
)
from arkor_temporal.core.models import JobRef, MetricsSummary, Phase, RunProgressState
from arkor_temporal.core.spec import parse_spec
from arkor_temporal.workflows.details import details_markdown, evals_markdown

USER = [{"role": "user", "content": "Classify: I was charged twice."}]
SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"enum": ["billing", "technical"]},
        "priority": {"enum": ["low", "high"]},
    },
    "required": ["category", "priority"],
    "additionalProperties": False,
}


def case(expect: dict[str, Any], **fields: Any) -> EvalCase:
    return EvalCase.model_validate({"name": "c", "messages": USER, "expect": expect, **fields})


def suite(*cases: dict[str, Any], **fields: Any) -> EvalSuiteSpec:
    return EvalSuiteSpec.model_validate({"cases": list(cases), **fields})


def spec_case(name: str, expect: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "messages": USER, "expect": expect, **fields}


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        EvalSuiteSpec.model_validate(data)
    return [
        (".".join(map(str, error["loc"])), str(error["msg"]).removeprefix("Value error, "))
        for error in caught.value.errors()
    ]


# --- scorers --------------------------------------------------------------------------------


def test_exact_strips_and_respects_case() -> None:
    expect = {"type": "exact", "value": "Category: billing."}
    assert score_case(case(expect), "  Category: billing.\n").passed
    failed = score_case(case(expect), "category: billing.")
    assert (failed.passed, failed.score) == (False, 0.0)
    assert "expected 'Category: billing.'" in failed.detail
    assert score_case(case({**expect, "caseSensitive": False}), "CATEGORY: BILLING.").passed
    assert not score_case(case({**expect, "strip": False}), " Category: billing.").passed


def test_contains_one_value_or_all_values_with_partial_credit() -> None:
    assert score_case(case({"type": "contains", "value": "billing"}), "Category: billing").passed
    both = case({"type": "contains", "values": ["billing", "high"], "caseSensitive": False})
    assert score_case(both, "BILLING, priority HIGH").passed
    half = score_case(both, "billing, priority low")
    assert (half.passed, half.score) == (False, 0.5)
    assert half.detail == "missing 'high'"


def test_regex_searches_or_matches_fully() -> None:
    expect = {"type": "regex", "pattern": r"Priority: (high|urgent)"}
    assert score_case(case(expect), "Category: billing. Priority: high.").passed
    full = case({**expect, "fullMatch": True})
    assert not score_case(full, "Category: billing. Priority: high.").passed
    assert score_case(full, "Priority: urgent").passed
    assert "does not fully match" in score_case(full, "nope").detail


def test_json_schema_parses_and_validates() -> None:
    json_case = case({"type": "jsonSchema", "schema": SCHEMA})
    good = score_case(json_case, json.dumps({"category": "billing", "priority": "high"}))
    assert (good.passed, good.score) == (True, 1.0)
    not_json = score_case(json_case, "Category: billing")
    assert not not_json.passed and not_json.detail.startswith("not JSON")
    wrong = score_case(json_case, json.dumps({"category": "shipping", "priority": "high"}))
    assert not wrong.passed
    assert wrong.detail.startswith("schema violation at $.category")


def test_choice_must_be_a_choice_and_the_answer() -> None:
    choice = case({"type": "choice", "choices": ["billing", "technical"], "answer": "billing"})
    assert score_case(choice, " billing\n").passed
    assert score_case(choice, "technical").detail == "chose 'technical', expected 'billing'"
    outside = score_case(choice, "shipping")
    assert not outside.passed and "not one of the choices" in outside.detail


@pytest.mark.parametrize(
    ("scorer", "content", "passed", "score", "detail"),
    [
        ("mentions_refund", "please refund me", True, 1.0, ""),
        ("mentions_refund", "no", False, 0.0, ""),
        ("length_ratio", "12345", True, 0.5, ""),  # 0.5 reaches the default passScore
        ("length_ratio", "1234", False, 0.4, ""),
        ("graded", "x", True, 0.75, "graded c"),
        ("crashes", "x", False, 0.0, "custom scorer raised KeyError: 'no grade for this answer'"),
        ("returns_text", "x", False, 0.0, "custom scorer returned 'excellent'"),
        ("out_of_range", "x", False, 0.0, "custom scorer returned 7.0"),
    ],
)
def test_custom_scorer_results_and_failures(
    scorer: str, content: str, passed: bool, score: float, detail: str
) -> None:
    custom = case({"type": "custom", "importPath": f"tests.support.scorers:{scorer}"})
    verdict = score_case(custom, content)
    assert (verdict.passed, verdict.score) == (passed, score)
    assert verdict.detail.startswith(detail)


def test_custom_pass_score_is_configurable() -> None:
    strict = case(
        {"type": "custom", "importPath": "tests.support.scorers:length_ratio", "passScore": 0.9}
    )
    assert not score_case(strict, "12345").passed


def test_tool_call_arguments_are_scored_when_there_is_no_content() -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "route", "arguments": '{"category":"billing","priority":"high"}'},
        }
    ]
    assert score_case(case({"type": "jsonSchema", "schema": SCHEMA}), None, calls).passed
    assert sample_of(None, calls) == 'route({"category":"billing","priority":"high"})'
    assert not score_case(case({"type": "exact", "value": "x"}), None, None).passed


def test_samples_are_truncated() -> None:
    sample = sample_of("x" * 1000, None)
    assert len(sample) == 200 and sample.endswith("…")


# --- bad expectations and cases: refused before anything runs ------------------------------


@pytest.mark.parametrize(
    ("expect", "loc", "message"),
    [
        (
            {"type": "regex", "pattern": "(unclosed"},
            "cases.0",
            "case 'bad': expect.pattern '(unclosed' is not a valid regular expression",
        ),
        (
            {"type": "jsonSchema", "schema": {"type": "objekt"}},
            "cases.0",
            "case 'bad': expect.schema is not a valid JSON Schema",
        ),
        (
            {"type": "custom", "importPath": "no_such_package.scorers:score"},
            "cases.0",
            "case 'bad': expect.importPath: cannot import module 'no_such_package.scorers'",
        ),
        (
            {"type": "custom", "importPath": "tests.support.scorers:missing"},
            "cases.0",
            "case 'bad': expect.importPath: 'tests.support.scorers' has no attribute 'missing'",
        ),
        (
            {"type": "custom", "importPath": "tests.support.scorers:NOT_CALLABLE"},
            "cases.0",
            "is a int, not a callable",
        ),
        (
            {"type": "custom", "importPath": "scorers.py"},
            "cases.0",
            "is not an import path; use the form package.module:function",
        ),
        (
            {"type": "choice", "choices": ["a", "b"], "answer": "c"},
            "cases.0",
            "case 'bad': expect.answer 'c' is not one of expect.choices",
        ),
        (
            {"type": "contains", "value": "a", "values": ["b"]},
            "cases.0",
            "case 'bad': expect: set exactly one of value",
        ),
        ({"type": "similar", "value": "a"}, "cases.0.expect", "type 'similar' is not known"),
        ({"type": "exact"}, "cases.0.expect.exact.value", "Field required"),
        ({"type": "exact", "value": "a", "vaule": 1}, "cases.0.expect.exact.vaule", "Extra"),
    ],
)
def test_bad_expectations_are_named_with_their_fix(
    expect: dict[str, Any], loc: str, message: str
) -> None:
    [(where, text)] = problems({"cases": [spec_case("bad", expect)]})
    assert where == loc
    assert message in text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0]: role 'bot' is not one"),
        ({"messages": [{"role": "tool", "content": "{}"}]}, "a tool message needs tool_call_id"),
        ({"toolChoice": "required"}, "toolChoice needs tools"),
        ({"toolChoice": "sometimes"}, "toolChoice 'sometimes'"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "route"}}],
                "toolChoice": {"type": "function", "function": {"name": "other"}},
            },
            "naming one of the tools",
        ),
        ({"tools": [{"type": "function", "function": {}}]}, "each tool is"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "route"}}],
                "toolChoice": {"type": "function", "function": "route"},
            },
            "naming one of the tools",
        ),
        ({"structuredOutputs": {"regex": "a", "choice": ["a"]}}, "exactly one of"),
        (
            {"structuredOutputs": {"regex": "a"}, "responseFormat": {"type": "json_object"}},
            "cannot be combined",
        ),
        ({"responseFormat": {"type": "json_schema", "json_schema": {}}}, "must be an object"),
        ({"maxTokens": 0}, "greater than 0"),
    ],
)
def test_bad_generation_settings_are_refused(fields: dict[str, Any], message: str) -> None:
    [(_where, text)] = problems(
        {"cases": [spec_case("bad", {"type": "exact", "value": "a"}, **fields)]}
    )
    assert message in text


def test_case_names_must_be_unique_and_cases_present() -> None:
    same = spec_case("twin", {"type": "exact", "value": "a"})
    assert problems({"cases": [same, same]}) == [
        ("cases", "duplicate case names ['twin']; give every case a unique name")
    ]
    assert problems({"cases": []})[0][0] == "cases"
    assert problems({"cases": [same], "concurency": 2})[0][0] == "concurency"


def test_a_well_formed_suite_uses_camel_case_and_defaults() -> None:
    parsed = suite(
        spec_case("json", {"type": "jsonSchema", "schema": SCHEMA}, maxTokens=64, weight=2),
        compareBaseModel=True,
        passThreshold=0.8,
    )
    assert parsed.compare_base_model and parsed.pass_threshold == 0.8
    assert (parsed.concurrency, parsed.case_concurrency, parsed.timeout_seconds) == (2, 4, 120)
    assert parsed.cases[0].max_tokens == 64


def test_custom_scorers_are_not_imported_inside_the_workflow_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The workflow never runs user code; a worker lacking it must still replay the spec.
    monkeypatch.setattr(workflow.unsafe, "in_sandbox", lambda: True)
    parsed = suite(spec_case("c", {"type": "custom", "importPath": "absent_pkg.mod:score"}))
    assert parsed.cases[0].expect.type == "custom"


# --- aggregation and views ------------------------------------------------------------------


def eval_input(*cases: dict[str, Any], **fields: Any) -> EvalInput:
    return EvalInput(
        job_id="job-1", step=25, suite=suite(*cases, **fields), base_model="unsloth/gemma-4-E4B-it"
    )


def test_summarize_weights_scores_and_records_the_base_delta() -> None:
    inp = eval_input(
        spec_case("a", {"type": "exact", "value": "yes"}, weight=3),
        spec_case("b", {"type": "exact", "value": "yes"}),
        compareBaseModel=True,
    )
    result = summarize(
        inp,
        [Answer(content="yes"), Answer(error="tool_calling_not_configured (POST -> 400)")],
        [Answer(content="no"), Answer(content="yes")],
        duration_seconds=1.5,
    )
    assert result.score == 0.75 and result.base_score == 0.25 and result.delta == 0.5
    assert not result.passed  # no threshold: every case must pass
    assert result.adapter == {"kind": "checkpoint", "jobId": "job-1", "step": 25}
    assert [c.name for c in result.cases] == ["a", "b"]
    assert result.cases[1].error == "tool_calling_not_configured (POST -> 400)"
    assert (result.cases[1].base_passed, result.cases[0].base_score) == (True, 0.0)
    assert result.error is None and result.duration_seconds == 1.5


def test_pass_threshold_and_an_evaluation_where_nothing_answered() -> None:
    inp = eval_input(
        spec_case("a", {"type": "exact", "value": "yes"}),
        spec_case("b", {"type": "exact", "value": "yes"}),
        passThreshold=0.5,
    )
    assert summarize(inp, [Answer(content="yes"), Answer(content="no")]).passed
    errored = summarize(inp, [Answer(error="422 bad adapter"), Answer(error="422 bad adapter")])
    assert errored.score is None and not errored.passed
    assert errored.error == "every case failed: 422 bad adapter"


def make_eval(step: int, score: float | None, error: str | None = None) -> CheckpointEval:
    return CheckpointEval(
        step=step,
        adapter={"kind": "checkpoint", "jobId": "j", "step": step},
        score=score,
        passed=False,
        total=2,
        cases=[
            CaseResult(name="a|b", passed=False, score=0.0),
            CaseResult(name="ok", passed=True, score=1.0),
        ],
        error=error,
    )


def test_best_checkpoint_prefers_the_earliest_of_equal_scores_and_skips_errors() -> None:
    evals = [make_eval(25, 0.5), make_eval(50, 0.9), make_eval(75, 0.9), make_eval(100, None, "x")]
    best = best_checkpoint(evals)
    assert best is not None and best.step == 50
    assert best.adapter == {"kind": "checkpoint", "jobId": "j", "step": 50}
    assert best_checkpoint([make_eval(100, None, "x")]) is None
    assert best_checkpoint([]) is None


def test_the_evaluations_list_is_bounded_keeps_the_best_and_stays_on_one_line() -> None:
    evals = [make_eval(step, 0.99 if step == 10 else 0.5) for step in range(10, 310, 10)]
    evals.append(make_eval(400, None, "every case failed: 503\nupstream"))
    shown = evals_markdown(evals, max_rows=5)
    items = [line for line in shown.splitlines() if line.startswith("- ")]
    assert len(items) == 5  # the best + the 4 latest
    assert "- step **10** ★ · score 0.990 · 1/2 cases · failing: a|b" in shown
    assert "- step 400 · error: every case failed: 503 upstream" in shown
    assert "26 more evaluation(s) not shown" in shown
    assert len(shown) < 2000
    assert evals_markdown([]) == "_no evaluations yet_"


def test_inputs_and_results_survive_temporal_payloads() -> None:
    converter = pydantic_data_converter.payload_converter
    inp = eval_input(spec_case("json", {"type": "jsonSchema", "schema": SCHEMA}))
    evaluation = summarize(inp, [Answer(content='{"category":"billing","priority":"high"}')])
    payloads = converter.to_payloads([inp, evaluation])
    restored = converter.from_payloads(payloads, [EvalInput, CheckpointEval])
    assert restored == [inp, evaluation]


def test_the_example_scorer_reads_its_params() -> None:
    scorer = case(
        {
            "type": "custom",
            "importPath": "examples.evals.triage_scorers:fields_right",
            "params": {"category": "billing", "priority": "high"},
        }
    )
    assert score_case(scorer, "Category: billing. Priority: high.").passed
    half = score_case(scorer, "Category: billing. Priority: low.")
    assert (half.passed, half.score, half.detail) == (False, 0.5, "1/2 fields right")
    assert score_case(scorer, "billing").detail == "no 'Category: X. Priority: Y.'"


def test_details_show_progress_losses_the_best_checkpoint_and_the_outcome() -> None:
    spec = parse_spec(
        {
            "name": "details",
            "model": "unsloth/gemma-4-E4B-it",
            "dataset": {"type": "huggingface", "name": "arkorlab/triage-demo"},
            "maxSteps": 1000,
        }
    )
    progress = RunProgressState(phase=Phase.RUNNING, started_at="2026-12-01T10:00:00Z")
    progress.summary = MetricsSummary(steps=250, last_loss=1.5, min_loss=1.25)
    progress.evals = [make_eval(100, 0.5), make_eval(200, 0.9)]
    job = JobRef(job_id="job-1", run_name="details", marker="m", adopted=False)
    now = datetime(2026, 12, 1, 10, 10, tzinfo=UTC).timestamp()  # 600 s of training

    live = details_markdown(spec, progress, job=job, stop=None, links=0, now_epoch=now)
    headline, blank, *items = live.splitlines()
    assert headline == "**details** · phase **running**" and blank == ""
    assert (
        "- progress: step 250/1000 (25%) · 0:10:00 training · 0.42 steps/s · ETA 0:30:00" in items
    )
    assert "- loss: last 1.5000 · best 1.2500" in items
    assert "- best checkpoint: step **200** (score 0.900)" in items
    assert "- step **200** ★ · score 0.900 · 1/2 cases · failing: a|b" in items
    assert not any(line.startswith("|") for line in items), "no tables"

    ended = details_markdown(
        spec,
        progress,
        job=job,
        stop=None,
        links=0,
        now_epoch=now,
        outcome=("stopped", "loss did not improve for 3 logs"),
    )
    assert ended.startswith("**details** · **stopped**: loss did not improve for 3 logs")
