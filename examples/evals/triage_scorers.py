"""An example custom scorer for the triage eval suite.

Named in a spec as::

    expect:
      type: custom
      importPath: examples.evals.triage_scorers:fields_right
      params: {category: billing, priority: high}

A scorer receives the answer text (or a tool call's arguments) and the case,
and returns a bool, a number in [0, 1] or a ``ScoreResult``. It should be
deterministic and quick: it runs on the worker for every evaluation.
"""

from __future__ import annotations

import re

from arkor_temporal.core.evals import CustomExpectation, EvalCase, ScoreResult

_ANSWER = re.compile(r"Category:\s*(\w+)\.\s*Priority:\s*(\w+)", re.IGNORECASE)


def fields_right(content: str, case: EvalCase) -> ScoreResult:
    """Half a point each for the right category and the right priority."""
    assert isinstance(case.expect, CustomExpectation)
    wanted = (case.expect.params.get("category", ""), case.expect.params.get("priority", ""))
    found = _ANSWER.search(content)
    if found is None:
        return ScoreResult(passed=False, score=0.0, detail="no 'Category: X. Priority: Y.'")
    hits = sum(a.lower() == b.lower() for a, b in zip(found.groups(), wanted, strict=True))
    return ScoreResult(passed=hits == 2, score=hits / 2, detail=f"{hits}/2 fields right")
