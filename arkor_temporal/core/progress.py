"""Applying backend events to run state, exactly once.

Pure and deterministic: the workflow calls :func:`apply_event` for every event
relayed to it, from signals and from the stream activity's result, and this
module decides whether the event is new. Events arrive at-least-once (activity
retries resume from the last *acknowledged* cursor, zombie attempts relay what
they read), always in stream order per sender, each sender starting at or before
the workflow's cursor. So the applied events always form a prefix of the stream,
and an event is new exactly when it moves its kind forward: a log or checkpoint
at a later step than the last applied one, the first ``training.started``, the
first terminal event (docs/protocol.md §14.5).
"""

from __future__ import annotations

import hashlib
import math

from arkor_temporal.core.models import (
    TERMINAL_EVENT_TYPES,
    CheckpointInfo,
    EventType,
    MetricPoint,
    Phase,
    RunEvent,
    RunProgressState,
)


def is_new(state: RunProgressState, event: RunEvent) -> bool:
    if state.terminal_event is not None:
        return False  # nothing after the end counts, not even late logs from a zombie
    if event.type == EventType.LOG:
        return event.step is not None and event.step > state.last_log_step
    if event.type == EventType.CHECKPOINT:
        return event.step is not None and event.step > state.last_checkpoint_step
    if event.type == EventType.STARTED:
        return state.started_at is None and state.phase in (Phase.SUBMITTING, Phase.QUEUED)
    # Unknown types carry no step to order them by, so they never change state.
    return event.type in TERMINAL_EVENT_TYPES


def apply_event(state: RunProgressState, event: RunEvent, max_points: int) -> bool:
    """Apply ``event`` if it is new; return whether it was applied."""
    if not is_new(state, event):
        state.ledger.duplicates_dropped += 1
        return False
    _record(state, event)
    if event.type == EventType.STARTED:
        state.phase = Phase.RUNNING
        state.started_at = event.timestamp
    elif event.type == EventType.LOG:
        _apply_log(state, event, max_points)
    elif event.type == EventType.CHECKPOINT:
        assert event.step is not None
        state.last_checkpoint_step = event.step
        state.checkpoints.append(
            CheckpointInfo(
                step=event.step, event_id=event.event_id, artifacts=event.artifacts or []
            )
        )
    elif event.type in TERMINAL_EVENT_TYPES:
        state.terminal_event = event
    return True


def _record(state: RunProgressState, event: RunEvent) -> None:
    ledger = state.ledger
    ledger.count += 1
    ledger.digest = chain_digest(ledger.digest, event.event_id)
    ledger.by_type[event.type] = ledger.by_type.get(event.type, 0) + 1
    if event.event_id is not None:
        state.cursor = event.event_id


def chain_digest(previous: str, event_id: str | None) -> str:
    """Hash chain over event ids: equal digests mean equal sequences."""
    return hashlib.sha256(f"{previous}|{event_id}".encode()).hexdigest()[:32]


def _apply_log(state: RunProgressState, event: RunEvent, max_points: int) -> None:
    assert event.step is not None
    state.last_log_step = event.step
    summary = state.summary
    summary.steps = event.step
    if event.non_finite_loss or (event.loss is not None and not math.isfinite(event.loss)):
        summary.non_finite_losses += 1
    elif event.loss is not None:
        summary.last_loss = event.loss
        summary.min_loss = (
            event.loss if summary.min_loss is None else min(summary.min_loss, event.loss)
        )
    if event.eval_loss is not None and math.isfinite(event.eval_loss):
        summary.last_eval_loss = event.eval_loss
        summary.min_eval_loss = (
            event.eval_loss
            if summary.min_eval_loss is None
            else min(summary.min_eval_loss, event.eval_loss)
        )
    if event.learning_rate is not None:
        summary.last_learning_rate = event.learning_rate
    if event.epoch is not None:
        summary.last_epoch = event.epoch
    _sample(state, event, max_points)


def _sample(state: RunProgressState, event: RunEvent, max_points: int) -> None:
    """Keep a bounded series: every ``stride``-th log, halving resolution when full.

    Eval points are always kept (they are rare and the ones people look at).
    """
    index = state.logs_seen
    state.logs_seen += 1
    if index % state.series_stride != 0 and event.eval_loss is None:
        return
    loss = event.loss if event.loss is not None and math.isfinite(event.loss) else None
    state.series.append(
        MetricPoint(
            step=event.step or 0,
            loss=loss,
            eval_loss=event.eval_loss,
            learning_rate=event.learning_rate,
        )
    )
    if len(state.series) > max_points:
        state.series_stride *= 2
        state.series = [
            p for i, p in enumerate(state.series) if i % 2 == 0 or p.eval_loss is not None
        ][-max_points:]
