"""Custom scorers the eval tests name by import path (``tests.support.scorers:graded``)."""

from __future__ import annotations

from arkor_temporal.core.evals import EvalCase, ScoreResult


def mentions_refund(content: str, case: EvalCase) -> bool:
    return "refund" in content.lower()


def length_ratio(content: str, case: EvalCase) -> float:
    return min(len(content) / 10, 1.0)


def graded(content: str, case: EvalCase) -> ScoreResult:
    return ScoreResult(passed=True, score=0.75, detail=f"graded {case.name}")


def crashes(content: str, case: EvalCase) -> float:
    raise KeyError("no grade for this answer")


def returns_text(content: str, case: EvalCase) -> str:
    return "excellent"


def out_of_range(content: str, case: EvalCase) -> float:
    return 7.0


NOT_CALLABLE = 42
