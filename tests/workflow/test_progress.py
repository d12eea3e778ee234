"""Exactly-once application of relayed events: a property over senders, retries and seams."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arkor_temporal.core.models import EventLedger, RunEvent, RunProgressState, StreamOrigin
from arkor_temporal.core.progress import apply_batch, apply_event, chain_digest

EVENT_TYPES = ("training.log", "checkpoint.saved")
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_:", min_size=1, max_size=12)


@st.composite
def streams(draw: st.DrawFn) -> list[RunEvent]:
    """A legal stream: opaque unique ids in no order, steps and types shared freely."""
    body = draw(st.lists(st.tuples(st.sampled_from(EVENT_TYPES), st.integers(1, 5)), max_size=40))
    unique = draw(st.lists(ids, min_size=len(body) + 2, max_size=len(body) + 2, unique=True))
    events = [RunEvent(event_id=unique[0], type="training.started")]
    for (kind, step), event_id in zip(body, unique[1:], strict=False):
        loss = None if kind != "training.log" or step % 2 else 1.0 / step  # eval-style logs
        events.append(RunEvent(event_id=event_id, type=kind, step=step, loss=loss))
    events.append(RunEvent(event_id=unique[-1], type="training.completed"))
    return events


def ledger_of(events: list[RunEvent]) -> EventLedger:
    ledger = EventLedger()
    for event in events:
        ledger.count += 1
        ledger.digest = chain_digest(ledger.digest, event.event_id)
        ledger.by_type[event.type] = ledger.by_type.get(event.type, 0) + 1
    return ledger


Delivery = tuple[list[RunEvent], StreamOrigin] | None  # None: continue as new here


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[RunEvent], list[Delivery]]:
    """Batches as real senders produce them: each sender (an attempt, a zombie, a retry)
    starts at or before the workflow's position and relays contiguous batches in order,
    each saying where it starts; senders interleave arbitrarily, and the run may
    continue as new between any two batches."""
    events = draw(streams())
    applied_upto = 0  # the workflow's position, as far as the senders can know it
    plan: list[Delivery] = []
    senders: list[int] = []  # next index each live sender will read

    def origin(start: int) -> StreamOrigin:
        return StreamOrigin(after=events[start - 1].event_id if start else None)

    for _ in range(draw(st.integers(1, 30))):
        if draw(st.integers(0, 9)) == 0:
            plan.append(None)
        if not senders or draw(st.booleans()):
            senders.append(draw(st.integers(0, applied_upto)))
        index = draw(st.integers(0, len(senders) - 1))
        start = senders[index]
        if start >= len(events):
            continue
        end = draw(st.integers(start + 1, len(events)))
        plan.append((events[start:end], origin(start)))
        senders[index] = end
        applied_upto = max(applied_upto, end)
    # Finally one sender reads to the end (the attempt that completes).
    start = draw(st.integers(0, applied_upto))
    plan.append((events[start:], origin(start)))
    return events, plan


@settings(max_examples=400, deadline=None)
@given(deliveries())
def test_every_event_applied_exactly_once(case: tuple[list[RunEvent], list[Delivery]]) -> None:
    events, plan = case
    state = RunProgressState()
    applied: list[RunEvent] = []
    for delivery in plan:
        if delivery is None:  # continue-as-new: the state travels as a payload
            state = RunProgressState.model_validate_json(state.model_dump_json())
            continue
        batch, origin = delivery
        applied += apply_batch(state, batch, origin, max_points=16)
    assert [e.event_id for e in applied] == [e.event_id for e in events]
    assert state.ledger.model_dump(exclude={"duplicates_dropped"}) == ledger_of(events).model_dump(
        exclude={"duplicates_dropped"}
    )
    relayed = sum(len(d[0]) for d in plan if d is not None)
    assert state.ledger.duplicates_dropped == relayed - len(events)
    assert state.cursor == events[-1].event_id
    assert len(state.checkpoints) == sum(e.type == "checkpoint.saved" for e in events)
    assert len(state.series) <= 16


def test_logs_sharing_a_step_are_all_applied() -> None:
    """HF's Trainer: a train log and an eval log at one step, then a summary at the last."""
    state = RunProgressState()
    train = RunEvent(event_id="q7", type="training.log", step=50, loss=0.9)
    evaluation = RunEvent(event_id="b2", type="training.log", step=50, eval_loss=1.1)
    summary = RunEvent(event_id="zz", type="training.log", step=50, loss=0.95)
    apply_batch(state, [train, evaluation], StreamOrigin(after=None), 16)
    apply_batch(state, [evaluation, summary], StreamOrigin(after="q7"), 16)
    assert state.ledger.count == 3 and state.ledger.duplicates_dropped == 1
    assert state.summary.last_eval_loss == 1.1
    # The summary's loss is the mean train loss: kept as such, not as the latest loss.
    assert state.summary.last_loss == 0.9 and state.summary.mean_train_loss == 0.95
    assert state.summary_log_id == "zz"
    assert [(p.step, p.loss) for p in state.series if p.loss is not None] == [(50, 0.9)]


def test_without_the_summary_rule_the_summary_counts_as_the_last_loss() -> None:
    """Runs recorded before the rule replay as they ran (the workflow's patch says no)."""
    state = RunProgressState()
    train = RunEvent(event_id="q7", type="training.log", step=50, loss=0.9)
    summary = RunEvent(event_id="zz", type="training.log", step=50, loss=0.95)
    asked: list[bool] = []

    def no() -> bool:
        asked.append(False)
        return False

    apply_batch(state, [train], StreamOrigin(after=None), 16, summary_logs=no)
    assert asked == []  # a first loss at a step asks nothing (no patch marker for it)
    apply_batch(state, [summary], StreamOrigin(after="q7"), 16, summary_logs=no)
    assert asked == [False]
    assert state.summary.last_loss == 0.95 and state.summary.mean_train_loss is None


def test_batches_without_an_origin_keep_the_step_rule() -> None:
    """Senders from before stream positions (recorded histories, old workers)."""
    state = RunProgressState()
    first = RunEvent(event_id="1", type="training.log", step=5, loss=1.0)
    again = RunEvent(event_id="2", type="training.log", step=5, eval_loss=1.0)
    assert apply_batch(state, [first, again], None, 16) == [first]
    assert state.ledger.duplicates_dropped == 1


def stream(steps: int, save_every: int) -> list[RunEvent]:
    events = [RunEvent(event_id="1", type="training.started")]
    for step in range(1, steps + 1):
        events.append(
            RunEvent(event_id=str(len(events) + 1), type="training.log", step=step, loss=2.0 / step)
        )
        if step % save_every == 0:
            events.append(
                RunEvent(event_id=str(len(events) + 1), type="checkpoint.saved", step=step)
            )
    events.append(RunEvent(event_id=str(len(events) + 1), type="training.completed"))
    return events


def test_series_is_downsampled_but_keeps_the_ends_of_the_range() -> None:
    state = RunProgressState()
    for event in stream(1000, 1000):
        apply_event(state, event, max_points=32)
    steps = [p.step for p in state.series]
    assert len(steps) <= 32 and steps == sorted(steps)
    assert steps[0] == 1 and steps[-1] > 900
    assert state.summary.steps == 1000 and state.summary.min_loss == 2.0 / 1000


def test_non_finite_loss_is_counted_not_kept() -> None:
    state = RunProgressState()
    apply_event(state, RunEvent(event_id="1", type="training.log", step=1, loss=1.0), 16)
    apply_event(
        state, RunEvent(event_id="2", type="training.log", step=2, non_finite_loss=True), 16
    )
    assert state.summary.non_finite_losses == 1 and state.summary.last_loss == 1.0


def test_nothing_counts_after_the_terminal_event() -> None:
    state = RunProgressState()
    apply_event(state, RunEvent(event_id="1", type="training.failed", error="boom"), 16)
    assert not apply_event(state, RunEvent(event_id="2", type="training.log", step=5), 16)
    assert not apply_event(state, RunEvent(event_id="3", type="training.completed"), 16)
    assert state.terminal_event is not None and state.terminal_event.error == "boom"
