"""Evaluating each saved checkpoint against the spec's suite, and acting on the score.

Each evaluation is one activity, a few at a time (the suite's ``concurrency``),
in the background. Its result is recorded in the run's progress; a score below
the best earlier checkpoint's is notified as a regression, and the eval stop
rules judge the scores so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from arkor_temporal.workflows.in_flight import Spawn
from arkor_temporal.workflows.notifier import Notifier
from arkor_temporal.workflows.policies import EVAL_HEARTBEAT_AT_MOST, EVAL_RETRY, task_queues

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.activities.evaluation import EvalActivities
    from arkor_temporal.core.evals import CheckpointEval, EvalInput, EvalSuiteSpec, best_checkpoint
    from arkor_temporal.core.failures import activity_failure_text
    from arkor_temporal.core.models import JobRef, RunProgressState, StopDecision
    from arkor_temporal.core.notifications import NotifyEvent
    from arkor_temporal.core.spec import RunSpec
    from arkor_temporal.core.stop_rules import observe_evals


class CheckpointEvaluator:
    def __init__(
        self,
        spec: RunSpec,
        progress: RunProgressState,
        *,
        spawn: Spawn,
        notifier: Notifier,
        request_stop: Callable[[StopDecision], bool],
        publish: Callable[[], None],
    ) -> None:
        self._spec = spec
        self._progress = progress
        self._spawn = spawn
        self._notifier = notifier
        self._request_stop = request_stop
        self._publish = publish
        self._slots = asyncio.Semaphore(spec.evals.concurrency if spec.evals else 1)

    def checkpoint_saved(self, job: JobRef, step: int) -> None:
        """Start evaluating the checkpoint, when the spec has a suite."""
        if self._spec.evals is not None:
            self._spawn(self._evaluate(job, step, self._spec.evals))

    async def _evaluate(self, job: JobRef, step: int, suite: EvalSuiteSpec) -> None:
        request = EvalInput(job_id=job.job_id, step=step, suite=suite, base_model=self._spec.model)
        start_to_close = timedelta(seconds=suite.timeout_seconds)
        async with self._slots:
            try:
                evaluation = await workflow.execute_activity_method(
                    EvalActivities.evaluate_checkpoint,
                    request,
                    task_queue=task_queues().work,
                    start_to_close_timeout=start_to_close,
                    heartbeat_timeout=min(start_to_close, EVAL_HEARTBEAT_AT_MOST),
                    retry_policy=EVAL_RETRY,
                    summary=f"evaluate checkpoint {step} ({len(suite.cases)} cases)",
                )
            except ActivityError as exc:
                evaluation = CheckpointEval.errored(request, activity_failure_text(exc))
        self._record(evaluation, job)

    def _record(self, evaluation: CheckpointEval, job: JobRef) -> None:
        evals = self._progress.evals
        before = best_checkpoint(evals)
        evals.append(evaluation)
        evals.sort(key=lambda e: e.step)
        regression = _regression(before, evaluation)
        if regression is not None:
            self._spawn(self._notifier.notify(NotifyEvent.EVAL_REGRESSION, job, None, regression))
        rules = self._spec.stop_rules
        if rules is not None:
            scores = [(e.step, e.score) for e in evals if e.error is None and e.score is not None]
            verdict = observe_evals(rules, scores)
            if verdict is not None:
                self._request_stop(verdict)
        self._publish()


def _regression(best: CheckpointEval | None, latest: CheckpointEval) -> str | None:
    """Why ``latest`` is a regression from the best earlier checkpoint, if it is one."""
    if best is None or best.score is None or latest.score is None or latest.step < best.step:
        return None
    if latest.score >= best.score:
        return None
    return (
        f"checkpoint {latest.step} scored {latest.score:.3f}, below the best "
        f"{best.score:.3f} (checkpoint {best.step})"
    )
