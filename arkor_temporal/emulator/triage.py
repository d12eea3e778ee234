"""The built-in triage dataset and the emulated model's answers to it.

Answer rule: with quality ``q`` (0 for the base model, ``step / totalSteps``
for a checkpoint, 1 for the final adapter) a prompt is answered with its
reference when ``u(prompt) < 0.9 * q + 0.05``, where ``u`` is a stable hash of
(seed, prompt) in [0, 1). Keying ``u`` on the prompt only (not the step) makes
quality monotone: a later checkpoint is never wrong where an earlier one was
right. Wrong answers vary with the step, so they are not all identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from arkor_temporal.emulator.hashing import unit_hash

BASE_ACCURACY = 0.05
ACCURACY_GAIN = 0.9


@dataclass(frozen=True)
class Example:
    prompt: str
    reference: dict[str, str]
    answer: str


@dataclass(frozen=True)
class Answer:
    """What the emulated model says: structured fields plus their text rendering."""

    fields: dict[str, str]
    text: str
    correct: bool


@dataclass(frozen=True)
class TriageDataset:
    categories: tuple[str, ...]
    priorities: tuple[str, ...]
    examples: tuple[Example, ...]

    def find(self, prompt: str) -> Example | None:
        wanted = prompt.strip()
        return next((ex for ex in self.examples if ex.prompt == wanted), None)

    def answer(self, example: Example, quality: float, seed: int, variant: str) -> Answer:
        if unit_hash(seed, example.prompt) < ACCURACY_GAIN * quality + BASE_ACCURACY:
            return Answer(dict(example.reference), example.answer, correct=True)
        fields = {
            "category": _other(self.categories, example.reference["category"], example, variant),
            "priority": _other(self.priorities, example.reference["priority"], example, variant),
        }
        return Answer(fields, render(fields), correct=False)


def render(fields: dict[str, str]) -> str:
    return f"Category: {fields['category']}. Priority: {fields['priority']}."


def _other(options: tuple[str, ...], avoid: str, example: Example, variant: str) -> str:
    choices = [option for option in options if option != avoid]
    return choices[int(unit_hash(example.prompt, variant, avoid) * len(choices))]


@cache
def load_dataset() -> TriageDataset:
    raw = json.loads(resources.files(__package__).joinpath("data/triage.json").read_text("utf-8"))
    return TriageDataset(
        categories=tuple(raw["categories"]),
        priorities=tuple(raw["priorities"]),
        examples=tuple(
            Example(ex["prompt"], dict(ex["reference"]), ex["answer"]) for ex in raw["examples"]
        ),
    )
