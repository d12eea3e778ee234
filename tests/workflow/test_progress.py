"""Exactly-once application of relayed events, as a property over senders and retries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arkor_temporal.core.models import EventLedger, RunEvent, RunProgressState
from arkor_temporal.core.progress import apply_event, chain_digest


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


def ledger_of(events: list[RunEvent]) -> EventLedger:
    ledger = EventLedger()
    for event in events:
        ledger.count += 1
        ledger.digest = chain_digest(ledger.digest, event.event_id)
        ledger.by_type[event.type] = ledger.by_type.get(event.type, 0) + 1
    return ledger


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[RunEvent], list[list[RunEvent]]]:
    """Batches as real senders produce them: each sender (an attempt, a zombie, a retry)
    starts at or before the workflow's position and relays contiguous batches in order;
    senders interleave arbitrarily."""
    events = stream(draw(st.integers(1, 40)), draw(st.integers(1, 10)))
    applied_upto = 0  # the workflow's position, as far as the senders can know it
    batches: list[list[RunEvent]] = []
    senders: list[int] = []  # next index each live sender will read
    for _ in range(draw(st.integers(1, 30))):
        if not senders or draw(st.booleans()):
            senders.append(draw(st.integers(0, applied_upto)))
        index = draw(st.integers(0, len(senders) - 1))
        start = senders[index]
        if start >= len(events):
            continue
        end = draw(st.integers(start + 1, len(events)))
        batches.append(events[start:end])
        senders[index] = end
        applied_upto = max(applied_upto, end)
    # Finally one sender reads to the end (the attempt that completes).
    start = draw(st.integers(0, applied_upto))
    batches.append(events[start:])
    return events, batches


@settings(max_examples=300, deadline=None)
@given(deliveries())
def test_every_event_applied_exactly_once(
    case: tuple[list[RunEvent], list[list[RunEvent]]],
) -> None:
    events, batches = case
    state = RunProgressState()
    for batch in batches:
        for event in batch:
            apply_event(state, event, max_points=16)
    assert state.ledger.model_dump(exclude={"duplicates_dropped"}) == ledger_of(events).model_dump(
        exclude={"duplicates_dropped"}
    )
    assert state.ledger.duplicates_dropped == sum(map(len, batches)) - len(events)
    assert state.cursor == events[-1].event_id
    assert [c.step for c in state.checkpoints] == [
        e.step for e in events if e.type == "checkpoint.saved"
    ]
    assert len(state.series) <= 16


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
