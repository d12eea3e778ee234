"""Evaluating one checkpoint: every case of the suite against its adapter (and the base model).

Inference is read-only, so the whole activity is safe to retry. Errors
(docs/protocol.md §5.4) are split by who can fix them:

* transient (network, undecodable body, 408/425/429/5xx): retried here a few
  times with backoff, which keeps the answers already gathered; if a case
  still cannot be answered the activity fails with a retryable
  ``InferenceUnavailable`` and Temporal retries it under the workflow's policy;
* anything else (``400 tool_calling_not_configured``, ``422 bad adapter``, a
  model rejecting the request...) belongs to the case: it is recorded as the
  case's error and the case fails. Retrying would give the same answer.

Scoring happens in a thread: custom scorers are user code and may block.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from arkor_cloud import ApiStatusError, ArkorClient, ArkorError, ChatRequest, is_transient
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.heartbeat import Heartbeater
from arkor_temporal.core.evals import Answer, CheckpointEval, EvalCase, EvalInput, summarize
from arkor_temporal.core.names import ActivityName
from arkor_temporal.telemetry.metrics import EVALUATIONS

RETRY_DELAYS = (0.5, 1.0, 2.0)
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


class EvalProgress(BaseModel):
    """Heartbeat details: inference requests answered so far."""

    done: int = 0
    total: int = 0


def is_retryable_inference_error(exc: ArkorError) -> bool:
    # The client counts every non-permanent status as transient (docs/protocol.md §1.3); for
    # inference a 4xx other than these says something about the request, which retrying
    # won't change.
    if isinstance(exc, ApiStatusError):
        return exc.status in _RETRYABLE_STATUSES or exc.status >= 500
    return is_transient(exc)


class EvalActivities:
    def __init__(self, context: CloudContext, *, retry_delays: Sequence[float] = RETRY_DELAYS):
        self._context = context
        self._retry_delays = tuple(retry_delays)

    @activity.defn(name=ActivityName.EVALUATE_CHECKPOINT)
    async def evaluate_checkpoint(self, eval_input: EvalInput) -> CheckpointEval:
        try:
            evaluation = await self._evaluate(eval_input)
        except Exception:
            EVALUATIONS.labels(outcome="retrying").inc()
            raise
        outcome = "errored" if evaluation.error else "passed" if evaluation.passed else "failed"
        EVALUATIONS.labels(outcome=outcome).inc()
        return evaluation

    async def _evaluate(self, eval_input: EvalInput) -> CheckpointEval:
        started = time.monotonic()
        suite = eval_input.suite
        targets: list[dict[str, Any]] = [{"adapter": eval_input.adapter}]
        if suite.compare_base_model:
            targets.append({"base_model": eval_input.base_model})
        progress = EvalProgress(total=len(suite.cases) * len(targets))
        limit = asyncio.Semaphore(suite.case_concurrency)

        async with self._context.client() as client, Heartbeater(lambda: progress):

            async def answer(case: EvalCase, target: dict[str, Any]) -> Answer:
                async with limit:
                    result = await self._ask(client, case, target)
                progress.done += 1
                return result

            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [
                        [group.create_task(answer(case, target)) for case in suite.cases]
                        for target in targets
                    ]
            except* Exception as failures:
                # One case out of retries: stop the others and let Temporal retry the activity.
                raise failures.exceptions[0] from None

        answers = [[task.result() for task in row] for row in tasks]
        evaluation = await asyncio.to_thread(
            summarize,
            eval_input,
            answers[0],
            answers[1] if suite.compare_base_model else None,
            time.monotonic() - started,
        )
        activity.logger.info(
            "evaluated %s step %s: score %s, %s/%s cases passed",
            eval_input.kind,
            eval_input.step,
            evaluation.score,
            evaluation.passed_cases,
            evaluation.total,
        )
        return evaluation

    async def _ask(self, client: ArkorClient, case: EvalCase, target: dict[str, Any]) -> Answer:
        request = ChatRequest(messages=case.messages, **case.generation_settings(), **target)
        attempt = 0
        while True:
            try:
                completion = await client.chat(request)
                break
            except ArkorError as exc:
                if not is_retryable_inference_error(exc):
                    return Answer(error=str(exc))
                if attempt == len(self._retry_delays):
                    raise ApplicationError(
                        f"case {case.name!r}: inference kept failing ({exc})",
                        type="InferenceUnavailable",
                    ) from None
                delay = self._retry_delays[attempt]
                attempt += 1
                activity.logger.warning("case %r: %s; retrying in %ss", case.name, exc, delay)
                await asyncio.sleep(delay)
        if not completion.choices:
            return Answer(error="the completion has no choices")
        message = completion.choices[0].message
        content = message.content if isinstance(message.content, str) else None
        return Answer(content=content, tool_calls=message.tool_calls)
