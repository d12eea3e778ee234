"""The terminal charts: each point lands in the cell its value and step say, in its colour."""

from __future__ import annotations

import math

from rich.console import Console

from arkor_temporal.cli.views.charts import BRAILLE, LABEL_WIDTH, Curve, line_chart, run_charts
from arkor_temporal.core.models import EvalPoint, MetricPoint


def plot_rows(chart_text: str) -> list[str]:
    """The plot's rows without the y-axis labels (the title first, the step axis last)."""
    return [line[LABEL_WIDTH + 1 :] for line in chart_text.splitlines()[1:-1]]


def dots(cell: str) -> int:
    return 0 if cell == " " else ord(cell) - BRAILLE


def test_a_rising_line_runs_from_bottom_left_to_top_right() -> None:
    chart = line_chart("x", [Curve("c", [(0, 0.0), (10, 1.0)], "red")], width=29, height=4)
    rows = plot_rows(chart.plain)
    assert len(rows) == 4 and all(len(row) == 20 for row in rows)
    assert dots(rows[-1][0]) & 0x40  # the lowest left dot: value 0 at step 0
    assert dots(rows[0][-1]) & 0x08  # the highest right dot: value 1 at step 10
    assert rows[0][0] == " " and rows[-1][-1] == " "  # nothing in the other corners
    assert chart.plain.splitlines()[1].startswith(f"{'1':>{LABEL_WIDTH}}┤")
    assert chart.plain.splitlines()[4].startswith(f"{'0':>{LABEL_WIDTH}}┤")
    assert chart.plain.splitlines()[-1].split() == ["step", "0", "10"]


def test_each_curve_keeps_its_colour_and_non_finite_values_are_left_out() -> None:
    series = [
        MetricPoint(step=s, loss=(math.nan if s == 20 else 3.0 - s / 20), eval_loss=None)
        for s in range(0, 41, 5)
    ]
    series += [MetricPoint(step=40, loss=None, eval_loss=5.0)]  # far above every train loss
    chart = run_charts(series, [], width=40, height=4)
    console = Console(width=60, color_system="truecolor", record=True)
    console.print(chart)
    plain = console.export_text(clear=False)
    assert "eval score" not in plain  # no evaluations, no score chart
    top = plot_rows(plain)[0]
    assert top.rstrip()[-1] != " " and dots(top.rstrip()[-1])  # the eval loss, top right
    styled = console.export_html(inline_styles=True)
    assert "color: #800080" in styled and "color: #008080" in styled  # magenta eval, cyan train


def test_scores_use_a_fixed_zero_to_one_axis() -> None:
    evals = [
        EvalPoint(step=25, score=0.5, passed=False),
        EvalPoint(step=50, score=0.5, passed=False),
    ]
    chart = run_charts([], evals, width=30, height=4)
    console = Console(width=40, record=True)
    console.print(chart)
    lines = console.export_text().splitlines()
    assert lines[0].startswith("eval score")
    assert lines[1].startswith(f"{'1':>{LABEL_WIDTH}}┤") and lines[4].startswith(
        f"{'0':>{LABEL_WIDTH}}┤"
    )
    middle = "".join(lines[2:4])  # 0.5 sits in the middle rows, not on an edge
    assert any(dots(c) for c in middle[LABEL_WIDTH + 1 :] if c != "┤")
