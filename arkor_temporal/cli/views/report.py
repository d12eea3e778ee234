"""HTML pages of runs: ``run report`` (one run) and ``run compare`` (several, overlaid).

Pure functions from :class:`RunReport` to a self-contained page: inline CSS and inline
SVG, no script and no external resource, so the file opens anywhere, offline, also where
scripts are blocked (CI artifact viewers). Every text is escaped.

Each chart is machine-checkable: its ``<svg>`` carries ``data-x-domain``,
``data-y-domain`` (data units) and ``data-plot`` (the plot box, ``left top width
height`` in SVG units); each curve is a ``<polyline>`` (each marker a ``<circle>``) with
``data-run`` (the workflow id) and ``data-series``, so its points map back to data units.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from arkor_temporal.client.reports import CaseCell, RunReport, case_rows
from arkor_temporal.core.durations import clock
from arkor_temporal.core.evals import CheckpointEval
from arkor_temporal.core.models import MetricPoint, StopDecision

# Tableau 10: distinct for the common forms of colour blindness.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
LOSS, EVAL_LOSS, LEARNING_RATE, EVAL_SCORE, BASE_SCORE = PALETTE[:5]

_WIDTH, _HEIGHT = 720, 260
_LEFT, _TOP, _RIGHT, _BOTTOM = 64, 12, 16, 40
_PLOT_WIDTH, _PLOT_HEIGHT = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
_TICKS = 5

Point = tuple[float, float]


def _e(value: object) -> str:
    """Escaped for text and for quoted attributes alike."""
    return escape(str(value), quote=True)


# -- charts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    run: str  # the workflow id (data-run)
    series: str  # what is plotted (data-series): loss, eval-loss, learning-rate, eval-score...
    label: str
    colour: str
    points: tuple[Point, ...]
    markers: bool = False  # a dot per point: for sparse series such as evaluations
    dashed: bool = False
    best: Point | None = None  # ringed: the best checkpoint


@dataclass(frozen=True)
class Chart:
    key: str  # data-chart
    title: str
    curves: tuple[Curve, ...]
    empty: str  # said instead of the chart when no curve has a point
    y_range: tuple[float, float] | None = None  # always shown, such as 0..1 for scores
    checkpoints: tuple[int, ...] = ()  # steps drawn as vertical rules


@dataclass(frozen=True)
class _Axes:
    x: tuple[float, float]
    y: tuple[float, float]

    @classmethod
    def fit(cls, points: Sequence[Point], y_range: tuple[float, float] | None) -> _Axes:
        ys = [y for _, y in points]
        if y_range is not None:
            ys += y_range
        return cls(_span([x for x, _ in points], pad=0.0), _span(ys, pad=0.05))

    def px(self, x: float) -> float:
        low, high = self.x
        return _LEFT + (x - low) / (high - low) * _PLOT_WIDTH

    def py(self, y: float) -> float:
        low, high = self.y
        return _TOP + _PLOT_HEIGHT - (y - low) / (high - low) * _PLOT_HEIGHT


def _span(values: Sequence[float], *, pad: float) -> tuple[float, float]:
    """The values' range, widened by ``pad`` of it but not below zero when none is negative;
    never empty (a single value gets room around it)."""
    low, high = min(values), max(values)
    room = (high - low) * pad if low != high else abs(low) * 0.1 or 1.0
    floor = 0.0 if low >= 0 and low != high else low - room
    return max(low - room, floor), high + room


def _ticks(low: float, high: float) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten apart) inside the range."""
    rough = (high - low) / (_TICKS - 1)
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    first = math.ceil(low / step)
    return [(first + i) * step for i in range(int(high / step - first + 1e-9) + 1)]


def render_chart(chart: Chart) -> str:
    """A ``<figure>`` with the chart's SVG and legend, or its ``empty`` note."""
    points = [point for curve in chart.curves for point in curve.points]
    if not points:
        return _figure(chart, f'<p class="empty">{_e(chart.empty)}</p>')
    axes = _Axes.fit(points, chart.y_range)
    svg = "".join(
        [
            f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" height="{_HEIGHT}" '
            f'role="img" aria-label="{_e(chart.title)}" '
            f'data-x-domain="{axes.x[0]!r} {axes.x[1]!r}" '
            f'data-y-domain="{axes.y[0]!r} {axes.y[1]!r}" '
            f'data-plot="{_LEFT} {_TOP} {_PLOT_WIDTH} {_PLOT_HEIGHT}">',
            _frame(axes),
            *(_rule(axes, step) for step in chart.checkpoints if axes.x[0] <= step <= axes.x[1]),
            *(_curve(curve, axes) for curve in chart.curves if curve.points),
            "</svg>",
        ]
    )
    return _figure(chart, svg + _legend(chart))


def _figure(chart: Chart, inner: str) -> str:
    return (
        f'<figure class="chart" data-chart="{_e(chart.key)}">'
        f"<figcaption>{_e(chart.title)}</figcaption>{inner}</figure>"
    )


def _frame(axes: _Axes) -> str:
    """The plot box, grid lines, tick labels and the x axis's name."""
    bottom, right = _TOP + _PLOT_HEIGHT, _LEFT + _PLOT_WIDTH
    parts = [
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{_PLOT_WIDTH}" height="{_PLOT_HEIGHT}"/>'
    ]
    for value in _ticks(*axes.y):
        y = axes.py(value)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y:.2f}" x2="{right}" y2="{y:.2f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">'
            f"{value:.3g}</text>"
        )
    for value in _ticks(*axes.x):
        parts.append(
            f'<text class="tick" x="{axes.px(value):.2f}" y="{bottom + 16}" '
            f'text-anchor="middle">{value:.4g}</text>'
        )
    parts.append(
        f'<text class="axis" x="{_LEFT + _PLOT_WIDTH / 2}" y="{_HEIGHT - 4}" '
        f'text-anchor="middle">step</text>'
    )
    return "".join(parts)


def _rule(axes: _Axes, step: int) -> str:
    x = axes.px(step)
    return (
        f'<line class="checkpoint" data-checkpoint="{step}" x1="{x:.2f}" y1="{_TOP}" '
        f'x2="{x:.2f}" y2="{_TOP + _PLOT_HEIGHT}"><title>checkpoint {step}</title></line>'
    )


def _curve(curve: Curve, axes: _Axes) -> str:
    tags = f'data-run="{_e(curve.run)}" data-series="{_e(curve.series)}"'
    title = f"<title>{_e(curve.label)}</title>"
    coords = " ".join(f"{axes.px(x):.2f},{axes.py(y):.2f}" for x, y in curve.points)
    dash = ' stroke-dasharray="6 4"' if curve.dashed else ""
    parts = [
        f'<polyline class="curve" {tags} points="{coords}" stroke="{curve.colour}"{dash}>'
        f"{title}</polyline>"
    ]
    if curve.markers or len(curve.points) == 1:  # a lone point draws no line
        parts += (_dot(curve, tags, axes, point, "marker", 3.5) for point in curve.points)
    if curve.best is not None:
        parts.append(_dot(curve, f'{tags} data-best="true"', axes, curve.best, "best", 7))
    return "".join(parts)


def _dot(curve: Curve, tags: str, axes: _Axes, point: Point, kind: str, radius: float) -> str:
    x, y = point
    return (
        f'<circle class="{kind}" {tags} data-step="{x:g}" cx="{axes.px(x):.2f}" '
        f'cy="{axes.py(y):.2f}" r="{radius}" stroke="{curve.colour}">'
        f"<title>{_e(curve.label)}: step {x:g}, {y:.4g}</title></circle>"
    )


def _legend(chart: Chart) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{curve.colour}"></span>{_e(curve.label)}</li>'
        for curve in chart.curves
        if curve.points
    )
    return f'<ul class="legend">{items}</ul>'


def _series_points(
    series: Sequence[MetricPoint], metric: Callable[[MetricPoint], float | None]
) -> tuple[Point, ...]:
    """``(step, value)`` for every point where the metric has a finite value."""
    values = ((point.step, metric(point)) for point in series)
    return tuple(
        (step, value) for step, value in values if value is not None and math.isfinite(value)
    )


def _score_points(evals: Sequence[CheckpointEval]) -> tuple[Point, ...]:
    """``(step, score)`` of each evaluation that produced a score."""
    return tuple((e.step, e.score) for e in evals if e.score is not None)


def _best_point(report: RunReport) -> Point | None:
    best = report.best_eval
    return (best.step, best.score) if best is not None and best.score is not None else None


# -- one run -----------------------------------------------------------------------


def report_html(report: RunReport) -> str:
    """``run report``: one run's curves, evaluations, checkpoints and outcome."""
    charts = (_training_chart(report), _learning_rate_chart(report), _score_chart(report))
    body = [
        f"<header><h1>Run {_e(report.title)}</h1>{_identity(report)}</header>",
        f'<section id="outcome"><h2>Outcome</h2>{_outcome_table(report)}</section>',
        '<section id="curves"><h2>Curves</h2>',
        *(render_chart(chart) for chart in charts),
        "</section>",
        f'<section id="evals"><h2>Evaluations per case</h2>{_cases_table(report)}</section>',
        f'<section id="checkpoints"><h2>Checkpoints</h2>{_checkpoints_table(report)}</section>',
        _footer(report.taken_at),
    ]
    return _page(f"Run report: {report.title}", body)


def _training_chart(report: RunReport) -> Chart:
    curves = (
        Curve(report.workflow_id, "loss", "loss", LOSS, _series_points(report.series, _loss)),
        Curve(
            report.workflow_id,
            "eval-loss",
            "eval loss",
            EVAL_LOSS,
            _series_points(report.series, _eval_loss),
            markers=True,
        ),
    )
    return Chart(
        "loss",
        "Loss and eval loss per step",
        curves,
        "no loss recorded yet",
        checkpoints=tuple(report.checkpoints),
    )


def _learning_rate_chart(report: RunReport) -> Chart:
    points = _series_points(report.series, _learning_rate)
    curve = Curve(report.workflow_id, "learning-rate", "learning rate", LEARNING_RATE, points)
    return Chart(
        "learning-rate",
        "Learning rate per step",
        (curve,),
        "no learning rate recorded yet",
    )


def _score_chart(report: RunReport) -> Chart:
    own = Curve(
        report.workflow_id,
        "eval-score",
        "eval score",
        EVAL_SCORE,
        _score_points(report.evals),
        markers=True,
        best=_best_point(report),
    )
    base_points = tuple((e.step, e.base_score) for e in report.evals if e.base_score is not None)
    base = Curve(
        report.workflow_id,
        "base-score",
        "base model",
        BASE_SCORE,
        base_points,
        markers=True,
        dashed=True,
    )
    return Chart(
        "eval-score",
        "Eval score per evaluated checkpoint (best ringed)",
        (own, base),
        "no checkpoint evaluated yet",
        y_range=(0.0, 1.0),
    )


def _loss(point: MetricPoint) -> float | None:
    return point.loss


def _eval_loss(point: MetricPoint) -> float | None:
    return point.eval_loss


def _learning_rate(point: MetricPoint) -> float | None:
    return point.learning_rate


def _identity(report: RunReport) -> str:
    link = (
        f' · <a data-web-ui href="{_e(report.web_ui)}">open in the Temporal Web UI</a>'
        if report.web_ui
        else ""
    )
    return f'<p class="identity">workflow <code>{_e(report.workflow_id)}</code>{link}</p>'


def _outcome_table(report: RunReport) -> str:
    metrics = report.metrics
    best = report.best_eval
    rows = [
        ("outcome", _state(report)),
        ("reason", _e(report.outcome.reason or "-")),
        *([("stop", _e(_stop_text(report.outcome.stop)))] if report.outcome.stop else []),
        ("summary", _e(report.summary or "-")),
        ("model", _e(report.model or "-")),
        ("job", _e(report.job_id or "-")),
        ("started", _e(_time(report.started))),
        ("closed", _e(_time(report.closed) if report.closed else "still running")),
        ("duration", _e(clock(report.duration.total_seconds()))),
        ("steps", _e(metrics.steps)),
        ("last loss", _e(_number(metrics.last_loss))),
        ("min loss", _e(_number(metrics.min_loss))),
        ("last eval loss", _e(_number(metrics.last_eval_loss))),
        ("min eval loss", _e(_number(metrics.min_eval_loss))),
        ("non-finite losses", _e(metrics.non_finite_losses)),
        ("best checkpoint", _e(_best_text(best))),
    ]
    cells = "".join(f"<tr><th>{_e(name)}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="facts">{cells}</table>{_snapshot_note(report)}'


def _state(report: RunReport) -> str:
    state = report.outcome.state
    return f'<span class="state state-{_e(state)}" data-outcome="{_e(state)}">{_e(state)}</span>'


def _snapshot_note(report: RunReport) -> str:
    if not report.running:
        return ""
    note = f"A snapshot of a running run, taken {_time(report.taken_at)}."
    if not report.answered:
        note += " No worker answered its queries: curves and evaluations may be missing."
    return f'<p class="note">{_e(note)}</p>'


def _stop_text(stop: StopDecision) -> str:
    rule = f" ({stop.rule})" if stop.rule else ""
    where = f" at step {stop.step}" if stop.step is not None else ""
    return f"{stop.kind.value}{rule}{where}, requested by {stop.requested_by}: {stop.reason}"


def _best_text(best: CheckpointEval | None) -> str:
    if best is None or best.score is None:
        return "-"
    return f"step {best.step} (score {best.score:.3f})"


def _cases_table(report: RunReport) -> str:
    """Case-by-checkpoint verdicts, the base model last, the scores in the final row."""
    evals = report.evals
    if not evals:
        return '<p class="empty">no evaluations recorded yet</p>'
    rows = case_rows(evals)
    with_base = any(row.base is not None for row in rows)
    head = "".join(
        f'<th data-step="{e.step}"{_best_class(report, e)}>step {e.step}'
        f"{' ★' if e.step == report.best_step else ''}</th>"
        for e in evals
    )
    head = f"<tr><th>case</th>{head}{'<th>base</th>' if with_base else ''}</tr>"
    body = []
    for row in rows:
        cells = "".join(
            _case_td(row.name, str(e.step), cell)
            for e, cell in zip(evals, row.by_checkpoint, strict=True)
        )
        base = _case_td(row.name, "base", row.base) if with_base else ""
        body.append(f"<tr><th>{_e(row.name)}</th>{cells}{base}</tr>")
    scores = "".join(f'<td data-step="{e.step}">{_e(_score_text(e))}</td>' for e in evals)
    base_score = f"<td>{_e(_number(evals[-1].base_score, 3))}</td>" if with_base else ""
    body.append(f'<tr class="score"><th>score</th>{scores}{base_score}</tr>')
    return f'<table class="cases">{head}{"".join(body)}</table>'


def _best_class(report: RunReport, evaluation: CheckpointEval) -> str:
    return ' class="best"' if evaluation.step == report.best_step else ""


def _case_td(case: str, step: str, cell: CaseCell | None) -> str:
    if cell is None:
        return f'<td data-case="{_e(case)}" data-step="{_e(step)}" data-outcome="none">-</td>'
    verdict = "error" if cell.error else "pass" if cell.passed else "fail"
    score = f" {cell.score:.2f}" if cell.score is not None and not cell.error else ""
    title = f' title="{_e(cell.error)}"' if cell.error else ""
    return (
        f'<td class="{verdict}" data-case="{_e(case)}" data-step="{_e(step)}" '
        f'data-outcome="{verdict}"{title}>{verdict}{score}</td>'
    )


def _score_text(evaluation: CheckpointEval) -> str:
    if evaluation.score is None:
        return f"error: {evaluation.error}" if evaluation.error else "error"
    return f"{evaluation.score:.3f} ({evaluation.passed_cases}/{evaluation.total})"


def _checkpoints_table(report: RunReport) -> str:
    """Every saved or evaluated step: its evaluation, and whether it is the best."""
    by_step = {e.step: e for e in report.evals}
    steps = sorted({*report.checkpoints, *by_step})
    if not steps:
        return '<p class="empty">no checkpoint saved yet</p>'
    head = "<tr><th>step</th><th>eval score</th><th>passed</th><th>best</th><th>adapter</th></tr>"
    rows = "".join(
        _checkpoint_row(step, by_step.get(step), step == report.best_step) for step in steps
    )
    return f'<table class="checkpoints">{head}{rows}</table>'


def _checkpoint_row(step: int, evaluation: CheckpointEval | None, best: bool) -> str:
    score = _score_text(evaluation) if evaluation else "not evaluated"
    passed = "-" if evaluation is None else "yes" if evaluation.passed else "no"
    adapter = json.dumps(evaluation.adapter, sort_keys=True) if evaluation else "-"
    marked = ' class="best"' if best else ""
    return (
        f'<tr data-checkpoint="{step}"{marked}><td>{step}</td>'
        f"<td>{_e(score)}</td><td>{passed}</td><td>{'★' if best else ''}</td>"
        f"<td><code>{_e(adapter)}</code></td></tr>"
    )


# -- several runs ------------------------------------------------------------------


def compare_html(reports: Sequence[RunReport]) -> str:
    """``run compare``: the runs' curves overlaid, one colour per run, and a summary table."""
    overlay = _Overlay(reports)
    charts = (
        Chart(
            "loss",
            "Loss per step",
            overlay.curves("loss", lambda r: _series_points(r.series, _loss)),
            "no run recorded a loss",
        ),
        Chart(
            "eval-loss",
            "Eval loss per step",
            overlay.curves("eval-loss", lambda r: _series_points(r.series, _eval_loss), dots=True),
            "no run recorded an eval loss",
        ),
        Chart(
            "eval-score",
            "Eval score per evaluated checkpoint (best ringed)",
            overlay.curves("eval-score", lambda r: _score_points(r.evals), dots=True, best=True),
            "no run evaluated a checkpoint",
            y_range=(0.0, 1.0),
        ),
    )
    body = [
        f"<header><h1>Comparing {len(reports)} runs</h1></header>",
        f'<section id="summary"><h2>Runs</h2>{_summary_table(overlay)}</section>',
        '<section id="curves"><h2>Curves</h2>',
        *(render_chart(chart) for chart in charts),
        "</section>",
        _footer(max(report.taken_at for report in reports)),
    ]
    return _page(f"Comparing {len(reports)} runs", body)


class _Overlay:
    """The compared runs, each with its colour and its legend label."""

    def __init__(self, reports: Sequence[RunReport]) -> None:
        self.reports = reports
        self.colours = {r.workflow_id: PALETTE[i % len(PALETTE)] for i, r in enumerate(reports)}
        titles = [r.title for r in reports]
        # Runs of one schedule may share a name: then only their ids tell them apart.
        unique = len(set(titles)) == len(titles)
        self.labels = {r.workflow_id: r.title if unique else r.workflow_id for r in reports}

    def curves(
        self,
        series: str,
        points: Callable[[RunReport], tuple[Point, ...]],
        *,
        dots: bool = False,
        best: bool = False,
    ) -> tuple[Curve, ...]:
        return tuple(
            Curve(
                r.workflow_id,
                series,
                self.labels[r.workflow_id],
                self.colours[r.workflow_id],
                points(r),
                markers=dots,
                best=_best_point(r) if best else None,
            )
            for r in self.reports
        )


def _summary_table(overlay: _Overlay) -> str:
    head = (
        "<tr><th></th><th>run</th><th>outcome</th><th>reason</th><th>steps</th>"
        "<th>last loss</th><th>min loss</th><th>best eval</th><th>duration</th></tr>"
    )
    rows = "".join(_summary_row(r, overlay.colours[r.workflow_id]) for r in overlay.reports)
    return f'<table class="summary">{head}{rows}</table>'


def _summary_row(report: RunReport, colour: str) -> str:
    metrics = report.metrics
    link = f' <a data-web-ui href="{_e(report.web_ui)}">Web UI</a>' if report.web_ui else ""
    cells = [
        f'<span class="swatch" style="background:{colour}"></span>',
        f"{_e(report.title)}<br><code>{_e(report.workflow_id)}</code>{link}",
        _state(report) + (" (snapshot)" if report.running else ""),
        _e(report.outcome.reason or "-"),
        _e(metrics.steps),
        _e(_number(metrics.last_loss)),
        _e(_number(metrics.min_loss)),
        _e(_best_text(report.best_eval)),
        _e(clock(report.duration.total_seconds())),
    ]
    tds = "".join(f"<td>{cell}</td>" for cell in cells)
    return f'<tr data-run="{_e(report.workflow_id)}">{tds}</tr>'


# -- the page ----------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 2rem auto; max-width: 980px;
  padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
code { font-size: 12px; background: #f3f3f3; padding: 0 .2em; word-break: break-all; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
table.facts th { background: #fafafa; font-weight: 600; }
.state { font-weight: 700; padding: 0 .4em; border-radius: 3px; background: #eee; }
.state-completed { background: #dff3df; color: #1d6b1d; }
.state-failed { background: #fbe0e0; color: #9b1c1c; }
.state-cancelled, .state-stopped { background: #fff1cc; color: #7a5300; }
.state-running, .state-queued, .state-submitting { background: #e0ecfb; color: #1d4f91; }
td.pass { color: #1d6b1d; } td.fail { color: #9b1c1c; } td.error { color: #9b1c1c;
  font-style: italic; }
.best { background: #fff8dc; }
.note, .empty { color: #666; font-style: italic; }
figure.chart { margin: 1rem 0; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
svg { max-width: 100%; height: auto; background: #fff; }
svg .plot { fill: #fcfcfc; stroke: #ccc; }
svg .grid { stroke: #eee; }
svg .tick, svg .axis { font-size: 11px; fill: #555; }
svg .checkpoint { stroke: #999; stroke-dasharray: 2 3; }
svg .curve { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg .marker { fill: #fff; stroke-width: 2; }
svg .best { fill: none; stroke-width: 2.5; }
.legend { list-style: none; padding: 0; margin: .2rem 0; display: flex; flex-wrap: wrap;
  gap: .3rem 1.2rem; }
.swatch { display: inline-block; width: .9em; height: .9em; margin-right: .35em;
  vertical-align: -.1em; border-radius: 2px; }
footer { margin-top: 2.5rem; color: #777; font-size: 12px; }
"""


def _page(title: str, body: Sequence[str]) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _footer(taken_at: datetime) -> str:
    return (
        f"<footer>Generated by arkor-temporal from the runs' Temporal state, "
        f"{_e(_time(taken_at))}.</footer>"
    )


def _time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
