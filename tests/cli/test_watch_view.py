"""The live view of `run watch`, fed by hand: a header from the run's own start, the best
checkpoint, the curves; then the result with hook failures and undelivered notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from arkor_temporal.cli.views.runs import result_table
from arkor_temporal.cli.views.watch import LiveRunView, timing_text
from arkor_temporal.client.runs import Snapshot
from arkor_temporal.core.hooks import HookEvent, HookOutcome
from arkor_temporal.core.models import (
    EvalPoint,
    EventLedger,
    LiveProgress,
    MetricPoint,
    MetricsSummary,
    Phase,
    RunResult,
    RunStatus,
    StatusView,
)
from arkor_temporal.core.notifications import DeliveryRecord, NotifyEvent

SERIES = [MetricPoint(step=s, loss=2.0 - s / 100) for s in range(0, 101, 10)]
EVALS = [
    EvalPoint(step=50, score=0.667, passed=False, delta=0.333),
    EvalPoint(step=100, score=0.5, passed=False),
]


def status(step: int) -> StatusView:
    return StatusView(
        run_name="triage",
        phase=Phase.RUNNING,
        job_id="job-1",
        step=step,
        max_steps=200,
        metrics=MetricsSummary(steps=step, last_loss=1.0, last_eval_loss=0.9),
        checkpoints=[50, 100],
        ledger=EventLedger(),
        evals=EVALS,
        best_eval_step=50,
        links=0,
    )


def test_the_header_counts_from_the_runs_start_and_names_the_best_checkpoint() -> None:
    screen = Console(width=100, record=True, force_terminal=False)
    started = datetime.now(UTC) - timedelta(minutes=5, seconds=3)
    live = LiveProgress(step=120, max_steps=200, loss=0.8123, steps_per_second=4.0)
    with LiveRunView("train-triage-1", screen, started) as view:
        view.show(Snapshot(status(100), SERIES, live=live))
    text = screen.export_text()
    assert "step 120/200" in text  # the stream's step, ahead of the workflow's
    assert "0:05:03 elapsed" in text or "0:05:04 elapsed" in text  # not since attaching
    assert "4.00 steps/s · ETA 0:00:20" in text  # (200 - 120) / 4
    assert "loss 0.8123" in text and "eval loss 0.9000" in text
    assert "best checkpoint 50 (score 0.667)" in text
    assert "checkpoint saved at step 50" in text and "eval of checkpoint 100" in text
    assert "eval score" in text and any(0x2800 < ord(c) <= 0x28FF for c in text)  # curves


def test_timing_without_a_rate_or_a_max_has_no_eta() -> None:
    assert timing_text(61, 10, None, 2.0) == "0:01:01 elapsed · 2.00 steps/s"
    assert timing_text(61, 10, 100, None) == "0:01:01 elapsed"
    assert timing_text(61, 100, 100, 2.0) == "0:01:01 elapsed · 2.00 steps/s"


def test_the_result_shows_failed_hooks_and_undelivered_notifications() -> None:
    result = RunResult(
        status=RunStatus.COMPLETED,
        reason="training completed",
        run_name="triage",
        job_id="job-1",
        metrics=MetricsSummary(steps=200),
        series=SERIES,
        checkpoints=[],
        ledger=EventLedger(),
        hook_failures=[
            HookOutcome(
                event=HookEvent.CHECKPOINT,
                import_path="hooks:on_checkpoint",
                ok=False,
                error="RuntimeError: bucket full",
                attempts=3,
            )
        ],
        notifications=[
            DeliveryRecord(
                index=0,
                kind="slack",
                event=NotifyEvent.COMPLETED,
                delivered=True,
                status_code=200,
                attempts=1,
            ),
            DeliveryRecord(
                index=1,
                kind="webhook",
                event=NotifyEvent.COMPLETED,
                delivered=False,
                status_code=503,
                attempts=5,
                error="503 Service Unavailable",
            ),
        ],
    )
    screen = Console(width=160, record=True)
    screen.print(result_table(result))
    text = screen.export_text()
    assert "hook onCheckpoint hooks:on_checkpoint failed after 3 attempt(s)" in text
    assert "RuntimeError: bucket full" in text
    assert "1 delivered" in text
    assert "notification webhook completed: NOT delivered after 5 attempt(s) HTTP 503" in text
