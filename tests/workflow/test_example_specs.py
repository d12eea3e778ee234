"""The example specs do what their comments promise, run as written on the emulator."""

from __future__ import annotations

from pathlib import Path

import httpx

from arkor_temporal.core.models import RunStatus
from arkor_temporal.core.spec import load_spec
from tests.support.backend import backend_job
from tests.support.runs import Runs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_the_diverging_example_is_stopped_by_its_early_stopping_rules(
    runs: Runs, inspect: httpx.Client
) -> None:
    spec = load_spec(EXAMPLES / "diverge.yaml")
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.STOPPED, result.reason
    assert "stop rule patience" in result.reason
    assert spec.max_steps is not None and 40 < result.metrics.steps < spec.max_steps
    assert result.job_id is not None
    assert backend_job(inspect, result.job_id)["status"] == "cancelled"  # no GPU left running


async def test_the_quickstart_evaluates_each_checkpoint_and_names_the_best(runs: Runs) -> None:
    spec = load_spec(EXAMPLES / "quickstart.yaml")
    _, result = await runs.run_to_end(spec)
    assert result.status is RunStatus.COMPLETED
    assert [e.step for e in result.evals] == [c.step for c in result.checkpoints] != []
    # The Trainer's closing summary (mean train loss at the last step) is not the last loss.
    losses = [p.loss for p in result.series if p.loss is not None]
    assert result.metrics.last_loss == losses[-1] and result.metrics.mean_train_loss is not None
    assert [p.step for p in result.series if p.loss is not None].count(100) == 1
    best = result.best_checkpoint
    assert best is not None and best.score == max(e.score or 0 for e in result.evals)
