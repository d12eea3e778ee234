"""``run logs``: a run's record as log lines, the training ones as Arkor's Studio prints them.

A training log reads ``step=<n> loss=<x.xxxx> evalLoss=<y.yyyy>``, leaving out a
value that is not a finite number (docs/protocol.md §3.3); then checkpoints,
evaluations, hook failures, notifications and the outcome, each on its own line.
Each line has a key, so that following a run prints every line once however often
the record is read again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from arkor_temporal.client.runs import RunRecord
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.hooks import HookOutcome
from arkor_temporal.core.models import LiveProgress, RunResult
from arkor_temporal.core.notifications import DeliveryRecord


@dataclass(frozen=True)
class LogLine:
    """One line; equal lines (step, kind and text) are the same line, read again."""

    step: int  # lines come in step order; those without a step come last
    order: int  # at one step: the training logs, the checkpoint, its evaluation
    text: str
    seq: int = field(default=0, compare=False)  # stream order among one step's logs

    def sort_key(self) -> tuple[int, int, int]:
        return (self.step, self.order, self.seq)


END = 2**62  # the step of lines that belong to no step (hooks, notifications, outcome)


def record_lines(record: RunRecord) -> list[LogLine]:
    """Every line the record holds, in step order."""
    lines = [*_training(record), *_failures(record.hook_failures)]
    lines += [_notification(delivery) for delivery in record.notifications]
    if record.result is not None:
        lines.append(LogLine(END, 9, outcome_line(record.result)))
    return sorted(set(lines), key=LogLine.sort_key)


def _training(record: RunRecord) -> Iterator[LogLine]:
    for seq, point in enumerate(record.series):
        if text := _log_text(point.step, point.loss, point.eval_loss):
            yield LogLine(point.step, 0, text, seq)
    if record.live is not None and (text := _live_text(record.live)):
        yield LogLine(record.live.step, 0, text, len(record.series))
    for step in record.checkpoints:
        yield LogLine(step, 1, f"checkpoint.saved step={step}")
    for evaluation in record.evals:
        yield LogLine(evaluation.step, 2, evaluation_line(evaluation))


def _log_text(step: int, loss: float | None, eval_loss: float | None) -> str | None:
    values = [(name, v) for name, v in (("loss", loss), ("evalLoss", eval_loss)) if _finite(v)]
    if not values:
        return None
    return " ".join([f"step={step}", *(f"{name}={v:.4f}" for name, v in values)])


def _live_text(live: LiveProgress) -> str | None:
    return _log_text(live.step, live.loss, None)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def evaluation_line(evaluation: CheckpointEval) -> str:
    where = f"evaluation step={evaluation.step}"
    if evaluation.error is not None or evaluation.score is None:
        return f"{where} failed: {evaluation.error or 'no score'}"
    delta = f" vsBase={evaluation.delta:+.3f}" if evaluation.delta is not None else ""
    verdict = "passed" if evaluation.passed else "not passed"
    cases = f"{evaluation.passed_cases}/{evaluation.total}"
    return f"{where} score={evaluation.score:.3f} cases={cases}{delta} {verdict}"


def _failures(outcomes: list[HookOutcome]) -> Iterator[LogLine]:
    for outcome in outcomes:
        yield LogLine(END, 5, hook_failure_line(outcome))


def hook_failure_line(outcome: HookOutcome) -> str:
    critical = " (critical)" if outcome.critical else ""
    return (
        f"hook {outcome.event.spec_key} {outcome.import_path} failed after "
        f"{outcome.attempts} attempt(s){critical}: {outcome.error}"
    )


def _notification(delivery: DeliveryRecord) -> LogLine:
    return LogLine(END, 6, notification_line(delivery))


def notification_line(delivery: DeliveryRecord) -> str:
    what = f"notification {delivery.kind} {delivery.event.value}"
    code = f" HTTP {delivery.status_code}" if delivery.status_code is not None else ""
    if delivery.delivered:
        return f"{what}: delivered{code}"
    return f"{what}: NOT delivered after {delivery.attempts} attempt(s){code}: {delivery.error}"


def outcome_line(result: RunResult) -> str:
    if result.status.value == "completed":
        return f"training.completed {len(result.artifacts)} artifact(s)"
    return f"{result.status.value}: {result.reason}"
