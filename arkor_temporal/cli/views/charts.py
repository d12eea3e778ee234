"""Curves in the terminal: line charts drawn with braille dots (2 x 4 dots a character).

``run watch`` and ``run status`` show a run's loss and eval loss (one chart, two
curves) and its eval score per checkpoint; the data is the run's own series and
evaluations, nothing else.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text

from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.models import EvalPoint, MetricPoint

BRAILLE = 0x2800
# The bit of each dot of a braille cell, by (column, row) inside the cell.
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
LABEL_WIDTH = 8  # the y-axis labels: "  2.4012"


@dataclass(frozen=True)
class Curve:
    label: str
    points: Sequence[tuple[float, float]]  # (step, value), finite values only
    style: str


def finite(points: Iterable[tuple[float, float | None]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in points if y is not None and math.isfinite(y)]


class _Canvas:
    """A grid of braille cells; each remembers which curve drew in it last (its colour)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.bits = [[0] * width for _ in range(height)]
        self.owner: list[list[int | None]] = [[None] * width for _ in range(height)]

    def dot(self, x: int, y: int, owner: int) -> None:
        """Set dot (x, y), y counted from the top, in dots (2 per cell across, 4 down)."""
        column, row = x // 2, y // 4
        if 0 <= column < self.width and 0 <= row < self.height:
            self.bits[row][column] |= DOT_BITS[x % 2][y % 4]
            self.owner[row][column] = owner

    def line(self, start: tuple[int, int], end: tuple[int, int], owner: int) -> None:
        """Bresenham's line between two dots, both ends included."""
        (x0, y0), (x1, y1) = start, end
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        while True:
            self.dot(x0, y0, owner)
            if (x0, y0) == (x1, y1):
                return
            doubled = 2 * error
            if doubled >= dy:
                error += dy
                x0 += sx
            if doubled <= dx:
                error += dx
                y0 += sy


def line_chart(
    title: str,
    curves: Sequence[Curve],
    *,
    width: int,
    height: int,
    y_range: tuple[float, float] | None = None,
) -> Text:
    """The curves on shared axes: max and min values at the left, first and last step below.

    ``width`` is the whole chart's width in characters, labels included; ``height``
    its plot's height in rows; ``y_range`` fixes the value axis (scores: 0 to 1), which
    otherwise spans the values.
    """
    drawn = [curve for curve in curves if curve.points]
    if not drawn:
        return Text("")
    xs = [x for curve in drawn for x, _ in curve.points]
    ys = [y for curve in drawn for _, y in curve.points]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = y_range or (min(ys), max(ys))
    plot_width = max(4, width - LABEL_WIDTH - 1)
    canvas = _Canvas(plot_width, height)

    def to_dot(point: tuple[float, float]) -> tuple[int, int]:
        x, y = point
        across = (x - x_low) / (x_high - x_low) if x_high > x_low else 0.5
        up = (y - y_low) / (y_high - y_low) if y_high > y_low else 0.5
        return round(across * (plot_width * 2 - 1)), round((1 - up) * (height * 4 - 1))

    for index, curve in enumerate(drawn):
        dots = [to_dot(point) for point in curve.points]
        canvas.dot(*dots[0], index)
        for start, end in itertools.pairwise(dots):
            canvas.line(start, end, index)
    return _render(title, drawn, canvas, (x_low, x_high, y_low, y_high))


def _render(
    title: str, curves: Sequence[Curve], canvas: _Canvas, bounds: tuple[float, ...]
) -> Text:
    x_low, x_high, y_low, y_high = bounds
    chart = Text()
    chart.append(f"{title}  ", style="bold")
    for curve in curves:
        chart.append(f"━ {curve.label}  ", style=curve.style)
    chart.append("\n")
    for row in range(canvas.height):
        label = _value(y_high) if row == 0 else _value(y_low) if row == canvas.height - 1 else ""
        chart.append(f"{label:>{LABEL_WIDTH}}┤", style="dim")
        for column in range(canvas.width):
            owner = canvas.owner[row][column]
            if owner is None:
                chart.append(" ")  # not the blank braille cell: copied text stays plain
            else:
                chart.append(chr(BRAILLE + canvas.bits[row][column]), style=curves[owner].style)
        chart.append("\n")
    first, last = f"step {x_low:g}", f"{x_high:g}"
    gap = max(1, canvas.width - len(first) - len(last))
    chart.append(" " * (LABEL_WIDTH + 1) + first + " " * gap + last, style="dim")
    return chart


def _value(value: float) -> str:
    return f"{value:.4g}"


def run_charts(
    series: Sequence[MetricPoint],
    evals: Sequence[EvalPoint | CheckpointEval],
    *,
    width: int,
    height: int = 5,
) -> RenderableType:
    """Loss and eval loss per step, and eval score per checkpoint (when evaluated)."""
    losses = line_chart(
        "loss",
        [
            Curve("train", finite((p.step, p.loss) for p in series), "cyan"),
            Curve("eval", finite((p.step, p.eval_loss) for p in series), "magenta"),
        ],
        width=width,
        height=height,
    )
    scores = line_chart(
        "eval score",
        [Curve("score", finite((e.step, e.score) for e in evals), "green")],
        width=width,
        height=height,
        y_range=(0.0, 1.0),
    )
    return Group(*(chart for chart in (losses, scores) if chart.plain))
