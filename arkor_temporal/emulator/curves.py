"""Seeded, realistic-looking training metrics for one job."""

from __future__ import annotations

import math
import random

from arkor_temporal.emulator.plan import STEPS_PER_EPOCH, TrainingPlan

START_LOSS = 2.4
FLOOR_LOSS = 0.45
DECAY_RATE = 4.0
NOISE = 0.03
EVAL_GAP = 1.06
DIVERGE_GROWTH = 1.15
LOSS_CAP = 1e6
SAMPLES_PER_SECOND_PER_ITEM = 2.5


class MetricCurves:
    """Loss, eval loss, learning rate and throughput as functions of the step.

    Loss follows ``floor + (start - floor) * exp(-k * progress)`` with ±3 %
    multiplicative noise. The ``diverge`` scenario multiplies it by 1.15 per
    logged step from ``atStep`` (capped so it stays a finite JSON number); the
    ``nan`` scenario makes it NaN from ``atStep`` (the caller encodes that).
    """

    def __init__(self, plan: TrainingPlan, seed: int) -> None:
        self._plan = plan
        self._rng = random.Random(seed)
        self._start = START_LOSS * self._rng.uniform(0.95, 1.05)
        self._floor = FLOOR_LOSS * self._rng.uniform(0.9, 1.1)

    def train_loss(self, step: int) -> float:
        return self._shaped(step, self._smooth(step) * self._noise())

    def eval_loss(self, step: int) -> float:
        return self._shaped(step, self._smooth(step) * EVAL_GAP * self._noise())

    def learning_rate(self, step: int) -> float:
        plan = self._plan
        if step <= plan.warmup_steps:
            return plan.learning_rate * step / plan.warmup_steps
        span = max(1, plan.total_steps - plan.warmup_steps)
        progress = (step - plan.warmup_steps) / span
        if plan.lr_scheduler == "constant":
            return plan.learning_rate
        if plan.lr_scheduler == "cosine":
            return plan.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))
        return plan.learning_rate * (1.0 - progress)

    def samples_per_second(self) -> float:
        return self._plan.batch_size * SAMPLES_PER_SECOND_PER_ITEM * self._noise()

    @staticmethod
    def epoch(step: int) -> float:
        return step / STEPS_PER_EPOCH

    def _smooth(self, step: int) -> float:
        progress = step / self._plan.total_steps
        return self._floor + (self._start - self._floor) * math.exp(-DECAY_RATE * progress)

    def _noise(self) -> float:
        return 1.0 + self._rng.uniform(-NOISE, NOISE)

    def _shaped(self, step: int, loss: float) -> float:
        plan = self._plan
        if plan.after_scenario_start(step, "nan"):
            return math.nan
        if plan.after_scenario_start(step, "diverge"):
            logged_since = (step - plan.at_step) / plan.logging_steps + 1
            return min(LOSS_CAP, loss * math.pow(DIVERGE_GROWTH, logged_since))
        return loss
