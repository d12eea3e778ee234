"""Applying backend events to run state, exactly once.

Pure and deterministic: the workflow hands every relayed batch (signals, and
the stream activity's returned tail) to :func:`apply_batch`, which decides what
is new. Events arrive at least once: an activity retry resumes from the last
*acknowledged* position, and a zombie attempt keeps relaying what it reads.
Every sender relays contiguous runs of the stream, in order, each saying where
it starts (:class:`~arkor_temporal.core.models.StreamOrigin`), and starts at
or before the workflow's own cursor. So the applied events always form a
prefix of the stream, and a batch's new events are exactly those after the
cursor: all of them when the batch starts at the cursor, those after the
cursor's event when the batch contains it, none otherwise (the batch lies
wholly behind). Ids are opaque and never compared for order; steps and types
play no part, since any number of events may share them (docs/protocol.md §14.5).

Batches without an origin come from senders that predate this rule (recorded
histories, and stream attempts still running on old workers during an upgrade);
for those alone the old rule applies: an event is new when it moves its kind's
step forward.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

from arkor_temporal.core.models import (
    TERMINAL_EVENT_TYPES,
    CheckpointInfo,
    EventType,
    MetricPoint,
    Phase,
    RunEvent,
    RunProgressState,
    StreamOrigin,
)


def apply_batch(
    state: RunProgressState,
    events: Sequence[RunEvent],
    origin: StreamOrigin | None,
    max_points: int,
    *,
    summary_logs: Callable[[], bool] = lambda: True,
) -> list[RunEvent]:
    """Apply the batch's new events in order; return them (``summary_logs``: as for
    :func:`apply_event`)."""
    fresh = list(events) if origin is None else after_cursor(state.cursor, origin, events)
    by_step = origin is None
    applied = [
        event
        for event in fresh
        if apply_event(state, event, max_points, by_step=by_step, summary_logs=summary_logs)
    ]
    state.ledger.duplicates_dropped += len(events) - len(fresh)
    return applied


def after_cursor(
    cursor: str | None, origin: StreamOrigin, events: Sequence[RunEvent]
) -> list[RunEvent]:
    """The events of a batch that follow the workflow's cursor in stream order."""
    if origin.after == cursor:
        return list(events)
    ids = [event.event_id for event in events]
    if cursor is not None and cursor in ids:
        return list(events[ids.index(cursor) + 1 :])
    return []  # wholly behind the cursor: every event was applied before


def _new_by_step(state: RunProgressState, event: RunEvent) -> bool:
    """The rule for batches without an origin: the event moves its kind forward."""
    if event.type == EventType.LOG:
        return event.step is not None and event.step > state.last_log_step
    if event.type == EventType.CHECKPOINT:
        return event.step is not None and event.step > state.last_checkpoint_step
    if event.type == EventType.STARTED:
        return state.started_at is None and state.phase in (Phase.SUBMITTING, Phase.QUEUED)
    # Unknown types carry no step to order them by, so they never change state.
    return event.type in TERMINAL_EVENT_TYPES


def apply_event(
    state: RunProgressState,
    event: RunEvent,
    max_points: int,
    *,
    by_step: bool = False,
    summary_logs: Callable[[], bool] = lambda: True,
) -> bool:
    """Apply one event known to be next in the stream; return whether it changed state.

    Nothing counts after the terminal event, not even late logs from a zombie.
    ``by_step`` applies the old rule (for batches without an origin). ``summary_logs``
    says whether a second train loss at one step is the Trainer's end-of-training
    summary (asked only when one comes, so that a workflow can answer with a patch).
    """
    if state.terminal_event is not None or (by_step and not _new_by_step(state, event)):
        state.ledger.duplicates_dropped += 1
        return False
    _record(state, event)
    if event.type == EventType.STARTED:
        state.phase = Phase.RUNNING
        state.started_at = event.timestamp
    elif event.type == EventType.LOG:
        _apply_log(state, event, max_points, summary_logs)
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


def _apply_log(
    state: RunProgressState, event: RunEvent, max_points: int, summary_logs: Callable[[], bool]
) -> None:
    assert event.step is not None
    state.last_log_step = event.step
    summary = state.summary
    summary.steps = event.step
    finite_loss = event.loss is not None and math.isfinite(event.loss)
    if finite_loss and event.step == state.last_loss_step and summary_logs():
        # HF's Trainer ends with a log at the last step whose loss is the mean train loss
        # (docs/protocol.md §14.5): not the latest loss, not a point of the curve.
        summary.mean_train_loss = event.loss
        state.summary_log_id = event.event_id
        return
    if event.non_finite_loss or (event.loss is not None and not finite_loss):
        summary.non_finite_losses += 1
    elif event.loss is not None:
        state.last_loss_step = event.step
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
