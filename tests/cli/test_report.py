"""``run report`` and ``run compare``: HTML pages from the runs' Temporal state.

The pages are read back the way a test can trust: each chart's ``<svg>`` names its
data domain and plot box, so every drawn point maps back to data units and is compared
with what Temporal holds for the run. End-to-end tests run real workflows on the
emulator and load the pages in headless Chromium (painted where the geometry says,
screenshot not blank); the view's own tests use hand-built reports.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.cli.reports import file_name
from arkor_temporal.cli.views.report import compare_html, report_html
from arkor_temporal.client.links import run_link
from arkor_temporal.client.reports import Outcome, RunReport, case_rows, report_of
from arkor_temporal.client.runs import RunInfo, RunRecord, RunRow, cancel_run, wait_for_result
from arkor_temporal.core.evals import CaseResult, CheckpointEval
from arkor_temporal.core.models import (
    EventLedger,
    MetricPoint,
    MetricsSummary,
    Phase,
    RunResult,
    RunStatus,
    StatusView,
    StopDecision,
    StopKind,
)
from arkor_temporal.core.spec import RunSpec
from arkor_temporal.emulator import EmulatorServer
from tests.support import browser
from tests.support.browser import hex_colour, measure_page, read_png, screenshot
from tests.support.cli import SLOW_BACKEND, Command
from tests.support.evals import triage_cases
from tests.support.runs import Runs, make_spec

Point = tuple[float, float]
# Pixel coordinates are written with two decimals: a point is right within this.
PIXEL_TOLERANCE = 0.006
# A 2 px curve across a plot paints ~900 pixels of its colour there (dashed ~400); its dots
# alone less than 100.
CURVE_PIXELS = 250
PLOTS = "svg rect.plot"


# -- reading a page back -----------------------------------------------------------


@dataclass(frozen=True)
class Axes:
    """A chart's mapping from data units to SVG units, as its ``<svg>`` declares it."""

    x: tuple[float, float]
    y: tuple[float, float]
    plot: tuple[float, float, float, float]  # left, top, width, height

    @classmethod
    def of(cls, attrs: dict[str, str]) -> Axes:
        x0, x1 = map(float, attrs["data-x-domain"].split())
        y0, y1 = map(float, attrs["data-y-domain"].split())
        left, top, width, height = map(float, attrs["data-plot"].split())
        return cls((x0, x1), (y0, y1), (left, top, width, height))

    def data(self, px: float, py: float) -> Point:
        left, top, width, height = self.plot
        x = self.x[0] + (px - left) / width * (self.x[1] - self.x[0])
        y = self.y[0] + (top + height - py) / height * (self.y[1] - self.y[0])
        return x, y

    def close(self, drawn: Point, expected: Point) -> bool:
        _, _, width, height = self.plot
        x_tolerance = PIXEL_TOLERANCE * (self.x[1] - self.x[0]) / width
        y_tolerance = PIXEL_TOLERANCE * (self.y[1] - self.y[0]) / height
        return (
            abs(drawn[0] - expected[0]) <= x_tolerance
            and abs(drawn[1] - expected[1]) <= y_tolerance
        )


@dataclass(frozen=True)
class Element:
    tag: str
    attrs: dict[str, str]
    chart: str | None
    axes: Axes | None

    @property
    def points(self) -> list[Point]:
        """A polyline's vertices, or a circle's centre, in data units."""
        assert self.axes is not None, f"{self.tag} outside a chart"
        if self.tag == "circle":
            return [self.axes.data(float(self.attrs["cx"]), float(self.attrs["cy"]))]
        pairs = (pair.split(",") for pair in self.attrs["points"].split())
        return [self.axes.data(float(x), float(y)) for x, y in pairs]


class Page(HTMLParser):
    """A page's text, the tags it uses, and every element with a ``data-*`` attribute or an
    ``href`` (with the chart it is drawn in)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.tags: set[str] = set()
        self._chunks: list[str] = []
        self._chart: str | None = None
        self._axes: Axes | None = None
        self.charts: list[str | None] = []  # the key of each chart drawn, in order
        self.feed(html)
        self.close()

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.add(tag)
        if tag == "figure":
            self._chart, self._axes = values.get("data-chart"), None
        if tag == "svg" and "data-plot" in values:
            self._axes = Axes.of(values)
            self.charts.append(self._chart)
        if any(name.startswith("data-") or name == "href" for name in values):
            self.elements.append(Element(tag, values, self._chart, self._axes))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._chart, self._axes = None, None

    def handle_data(self, data: str) -> None:
        self._chunks.append(data)

    def find(self, tag: str, **data: str) -> list[Element]:
        """Elements of ``tag`` whose ``data-<name>`` attributes have these values."""
        wanted = {f"data-{name.replace('_', '-')}": value for name, value in data.items()}
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def curve(self, chart: str, series: str, run: str) -> Element:
        [line] = [e for e in self.find("polyline", series=series, run=run) if e.chart == chart]
        return line

    def dots(self, chart: str, series: str, run: str, kind: str = "marker") -> list[Element]:
        return [
            e
            for e in self.find("circle", series=series, run=run)
            if e.chart == chart and kind in e.attrs["class"].split()
        ]

    def outcome(self) -> str:
        """The first outcome badge's state."""
        badge = next(e for e in self.elements if e.tag == "span" and "data-outcome" in e.attrs)
        return badge.attrs["data-outcome"]


def assert_points(element: Element, expected: Sequence[Point]) -> None:
    """The element's points are ``expected``, in data units, to the pixel's rounding."""
    drawn = element.points
    assert element.axes is not None
    assert len(drawn) == len(expected), (element.attrs.get("data-series"), drawn, expected)
    for got, want in zip(drawn, expected, strict=True):
        assert element.axes.close(got, want), (element.attrs.get("data-series"), got, want)


def assert_dots(dots: Sequence[Element], expected: Sequence[Point]) -> None:
    assert len(dots) == len(expected), ([d.points for d in dots], expected)
    for dot, want in zip(dots, expected, strict=True):
        assert_points(dot, [want])


def metric(series: Sequence[MetricPoint], name: str) -> list[Point]:
    values = ((point.step, getattr(point, name)) for point in series)
    return [(step, value) for step, value in values if value is not None]


def scores(evals: Sequence[CheckpointEval]) -> list[Point]:
    return [(e.step, e.score) for e in evals if e.score is not None]


def verdict(case: CaseResult) -> str:
    return "error" if case.error else "pass" if case.passed else "fail"


# -- runs on the emulator, shared by the module ------------------------------------


@dataclass(frozen=True)
class Finished:
    """Two evaluated runs that completed, and a worker that keeps serving the module."""

    runs: Runs
    results: dict[str, RunResult]  # by workflow id, in start order

    @property
    def ids(self) -> list[str]:
        return list(self.results)


def evaluated_spec(name: str, learning_rate: float) -> RunSpec:
    """40 steps, an eval loss every 10, a checkpoint (evaluated, with the base) every 20."""
    return make_spec(
        name=name,
        maxSteps=40,
        saveSteps=20,
        evalSteps=10,
        learningRate=learning_rate,
        evals={"cases": triage_cases()[:3], "compareBaseModel": True},
    )


@pytest.fixture(scope="module")
async def finished(
    temporal_client: Client, cloud_context: CloudContext, emulator_server: EmulatorServer
) -> AsyncIterator[Finished]:
    runs = Runs(temporal_client, cloud_context, f"tq-report-{uuid.uuid4()}", emulator_server)
    async with runs.worker():
        handles = [
            await runs.start(evaluated_spec("report-a", 2e-4)),
            await runs.start(evaluated_spec("report-b", 5e-5)),
        ]
        yield Finished(runs, {handle.id: await handle.result() for handle in handles})


def web_ui(client: Client, workflow_id: str) -> str | None:
    return run_link(client.service_client.config.target_host, client.namespace, workflow_id)


def curve_pixels(
    page: Page, measured: browser.MeasuredPage, image: browser.Image
) -> dict[tuple[str | None, str], int]:
    """Per chart and curve colour: the screenshot's pixels of that colour in the plot box."""
    assert measured.height <= image.height, "the page fits in the screenshot"
    assert len(page.charts) == len(measured.regions)
    counts = {}
    for chart, box in zip(page.charts, measured.regions, strict=True):
        for stroke in {e.attrs["stroke"] for e in page.find("polyline") if e.chart == chart}:
            counts[chart, stroke] = image.pixels_near([hex_colour(stroke)], box)
    return counts


def assert_painted(shapes: Sequence[browser.PaintedShape], series: set[str]) -> None:
    """Every shape has geometry the browser paints at each of its points."""
    assert {shape.data["series"] for shape in shapes} == series
    for shape in shapes:
        assert shape.checked > 0 and not shape.missed, shape


async def test_report_of_a_finished_run_in_a_real_browser(
    finished: Finished,
    command: Command,
    temporal_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    browser.chromium()
    workflow_id = finished.ids[0]
    result = finished.results[workflow_id]
    monkeypatch.chdir(tmp_path)  # the command writes ./<ID>.html by default
    done = await command("run", "report", workflow_id)
    assert done.code == 0, done.stderr
    path = tmp_path / f"{workflow_id}.html"
    assert done.stdout.strip() == str(path) and path.exists()

    measured = measure_page(path, tmp_path, regions=PLOTS)
    assert_painted(
        measured.shapes, {"loss", "eval-loss", "learning-rate", "eval-score", "base-score"}
    )
    page = Page(measured.dom)  # as the browser parsed it
    assert page.outcome() == "completed"
    assert_points(page.curve("loss", "loss", workflow_id), metric(result.series, "loss"))
    eval_losses = metric(result.series, "eval_loss")
    assert len(eval_losses) >= 3, "the spec logs an eval loss every 10 steps"
    assert_points(page.curve("loss", "eval-loss", workflow_id), eval_losses)
    lr = metric(result.series, "learning_rate")
    assert_points(page.curve("learning-rate", "learning-rate", workflow_id), lr)
    assert [e.step for e in result.evals] == [20, 40]
    assert_dots(page.dots("eval-score", "eval-score", workflow_id), scores(result.evals))
    best = result.best_checkpoint
    assert best is not None and best.score is not None
    [ring] = page.dots("eval-score", "eval-score", workflow_id, kind="best")
    assert_points(ring, [(best.step, best.score)])
    base = [(e.step, e.base_score) for e in result.evals if e.base_score is not None]
    assert_dots(page.dots("eval-score", "base-score", workflow_id), base)

    for evaluation in result.evals:
        for case in evaluation.cases:
            [cell] = page.find("td", case=case.name, step=str(evaluation.step))
            assert cell.attrs["data-outcome"] == verdict(case)
    for row in case_rows(result.evals):
        [cell] = page.find("td", case=row.name, step="base")
        assert row.base is not None and cell.attrs["data-outcome"] == (
            "pass" if row.base.passed else "fail"
        )
    assert [int(tr.attrs["data-checkpoint"]) for tr in page.find("tr")] == [20, 40]
    [best_row] = [tr for tr in page.find("tr") if "best" in tr.attrs.get("class", "")]
    assert best_row.attrs["data-checkpoint"] == str(best.step)
    [link] = page.find("a", web_ui="")
    assert link.attrs["href"] == web_ui(temporal_client, workflow_id)
    assert "training completed" in page.text

    image = read_png(screenshot(path, tmp_path / "report.png"))
    assert len(image.colours()) > 50, "the screenshot is blank"
    pixels = curve_pixels(page, measured, image)
    assert len(pixels) == 5 and all(count > CURVE_PIXELS for count in pixels.values()), pixels


async def test_compare_overlays_the_runs_in_a_real_browser(
    finished: Finished, command: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser.chromium()
    monkeypatch.chdir(tmp_path)
    opened = tmp_path / "opened.txt"
    # --open goes through webbrowser, which runs $BROWSER: here, a note of what it opened.
    note = f"import sys, pathlib; pathlib.Path({str(opened)!r}).write_text(sys.argv[1])"
    monkeypatch.setenv("BROWSER", f"{sys.executable} -c {shlex.quote(note)} %s")
    done = await command("run", "compare", *finished.ids, "--open")
    assert done.code == 0, done.stderr
    path = tmp_path / f"compare-{finished.ids[0]}-and-1-more.html"
    assert done.stdout.strip() == str(path)
    assert opened.read_text() == path.as_uri()

    measured = measure_page(path, tmp_path, regions=PLOTS)
    assert_painted(measured.shapes, {"loss", "eval-loss", "eval-score"})
    page = Page(measured.dom)
    assert [tr.attrs["data-run"] for tr in page.find("tr") if "data-run" in tr.attrs] == (
        finished.ids
    )
    colours = []
    for workflow_id, result in finished.results.items():
        loss = page.curve("loss", "loss", workflow_id)
        assert_points(loss, metric(result.series, "loss"))
        assert_points(
            page.curve("eval-loss", "eval-loss", workflow_id), metric(result.series, "eval_loss")
        )
        assert_dots(page.dots("eval-score", "eval-score", workflow_id), scores(result.evals))
        best = result.best_checkpoint
        assert best is not None and best.score is not None
        [ring] = page.dots("eval-score", "eval-score", workflow_id, kind="best")
        assert_points(ring, [(best.step, best.score)])
        run_shapes = [e for e in page.elements if e.attrs.get("data-run") == workflow_id]
        assert {e.attrs["stroke"] for e in run_shapes if "stroke" in e.attrs} == {
            loss.attrs["stroke"]
        }, "one colour per run"
        colours.append(loss.attrs["stroke"])
    assert len(set(colours)) == len(colours)
    assert metric(finished.results[finished.ids[0]].series, "loss") != metric(
        finished.results[finished.ids[1]].series, "loss"
    ), "the runs differ, so the overlay shows two curves"

    image = read_png(screenshot(path, tmp_path / "compare.png"))
    # Per chart, not per run: a run's curve may lie under another's (equal eval scores).
    per_chart = Counter[str | None]()
    for (chart, _), count in curve_pixels(page, measured, image).items():
        per_chart[chart] += count
    assert set(per_chart) == {"loss", "eval-loss", "eval-score"}, per_chart
    assert all(count > CURVE_PIXELS for count in per_chart.values()), per_chart


async def test_report_of_a_running_run_is_a_snapshot_then_shows_the_cancel(
    finished: Finished, command: Command, tmp_path: Path
) -> None:
    runs = finished.runs
    spec = make_spec(
        name="report-live",
        maxSteps=400,
        saveSteps=10,
        evalSteps=10,
        backend=SLOW_BACKEND,
        evals={"cases": triage_cases()[:2]},
    )
    handle = await runs.start(spec)
    await runs.wait_for_status(
        handle, lambda status: bool(status.evals) and status.step >= 15, what="an evaluation"
    )
    live = await command("run", "report", handle.id, "-o", str(tmp_path / "live.html"))
    assert live.code == 0, live.stderr
    snapshot = Page((tmp_path / "live.html").read_text())
    assert snapshot.outcome() == "running"
    assert "A snapshot of a running run" in snapshot.text
    drawn = snapshot.curve("loss", "loss", handle.id)
    assert len(drawn.points) >= 2
    assert snapshot.dots("eval-score", "eval-score", handle.id)

    await cancel_run(handle, "enough for the report", "report test")
    result = await wait_for_result(handle)
    assert result.status is RunStatus.CANCELLED
    ended = await command("run", "report", handle.id, "-o", str(tmp_path / "ended.html"))
    assert ended.code == 0, ended.stderr
    page = Page((tmp_path / "ended.html").read_text())
    assert page.outcome() == "cancelled"
    text = page.text
    assert "ops-cancel" in text and "requested by report test: enough for the report" in text
    # The snapshot's points are the first part of what the run recorded in the end.
    final = metric(result.series, "loss")
    assert drawn.axes is not None
    assert all(any(drawn.axes.close(p, q) for q in final) for p in drawn.points)


async def test_unknown_ids_and_too_few_runs_are_refused(
    finished: Finished, command: Command, tmp_path: Path
) -> None:
    known = finished.ids[0]
    out = str(tmp_path / "x.html")
    missing = await command("run", "report", "no-such-run", "-o", out)
    assert missing.code == 2 and "no run with workflow id 'no-such-run'" in missing.stderr
    mixed = await command("run", "compare", known, "no-such-run", "-o", out)
    assert mixed.code == 2 and "no run with workflow id 'no-such-run'" in mixed.stderr
    for ids in ([known], [known, known]):
        alone = await command("run", "compare", *ids, "-o", out)
        assert alone.code == 2 and "at least two different run ids" in alone.stderr
    unwritable = await command("run", "report", known, "-o", str(tmp_path / "no" / "x.html"))
    assert unwritable.code == 2 and "cannot write" in unwritable.stderr
    assert not (tmp_path / "x.html").exists()


# -- the view, on hand-built reports -----------------------------------------------

NOW = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)


def evaluation(step: int, score: float | None, **fields: Any) -> CheckpointEval:
    return CheckpointEval(
        step=step,
        adapter={"type": "checkpoint", "step": step},
        score=score,
        passed=bool(score and score >= 0.5),
        total=2,
        **fields,
    )


def case(name: str, passed: bool, score: float, **fields: Any) -> CaseResult:
    return CaseResult(name=name, passed=passed, score=score, **fields)


def hand_report(**fields: Any) -> RunReport:
    values: dict[str, Any] = {
        "workflow_id": "train-nightly-20261129",
        "run_name": "nightly",
        "model": "unsloth/gemma-4-E4B-it",
        "job_id": "job-1",
        "summary": "Fine-tune nightly",
        "running": False,
        "answered": True,
        "outcome": Outcome(state="completed", reason="training completed"),
        "started": NOW - timedelta(minutes=12),
        "closed": NOW,
        "taken_at": NOW,
        "metrics": MetricsSummary(steps=30, last_loss=0.9, min_loss=0.9),
        "series": [
            MetricPoint(step=10, loss=1.5, learning_rate=2e-4),
            MetricPoint(step=20, loss=1.1, eval_loss=1.2, learning_rate=1e-4),
            MetricPoint(step=30, loss=0.9, learning_rate=5e-5),
        ],
        "evals": [
            evaluation(10, 0.25, cases=[case("a", False, 0.0), case("b", True, 0.5)]),
            evaluation(20, 0.75, cases=[case("a", True, 1.0), case("b", True, 0.5)]),
        ],
        "checkpoints": [10, 20, 30],
        "best_step": 20,
        "web_ui": "http://localhost:8233/namespaces/default/workflows/train-nightly-20261129",
    }
    return RunReport(**{**values, **fields})


def test_the_curves_map_back_to_the_series_and_evaluations() -> None:
    report = hand_report()
    page = Page(report_html(report))
    run = report.workflow_id
    assert_points(page.curve("loss", "loss", run), [(10, 1.5), (20, 1.1), (30, 0.9)])
    assert_points(page.curve("loss", "eval-loss", run), [(20, 1.2)])
    assert_dots(page.dots("loss", "eval-loss", run), [(20, 1.2)])  # a lone point is a dot
    assert_points(
        page.curve("learning-rate", "learning-rate", run), [(10, 2e-4), (20, 1e-4), (30, 5e-5)]
    )
    assert_dots(page.dots("eval-score", "eval-score", run), [(10, 0.25), (20, 0.75)])
    [ring] = page.dots("eval-score", "eval-score", run, kind="best")
    assert_points(ring, [(20, 0.75)])
    assert [e.attrs["data-checkpoint"] for e in page.find("line")] == ["10", "20", "30"]
    assert [e.attrs["data-outcome"] for e in page.find("td", case="a")] == ["fail", "pass"]
    assert not page.find("td", step="base"), "no base column when no case ran on the base"
    assert {"script", "link", "img", "iframe"}.isdisjoint(page.tags), "self-contained"
    assert "http" not in report_html(report).replace(report.web_ui or "", "")


def test_hostile_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&'
    run = 'w"><img src=x onerror=alert(1)>'
    report = hand_report(
        workflow_id=run,
        run_name=hostile,
        summary="</td></tr></table><iframe>",
        outcome=Outcome(
            state="stopped",
            reason=hostile,
            stop=StopDecision(
                kind=StopKind.STOP_RULE,
                reason=hostile,
                requested_by="<b>rules</b>",
                rule="lossCeiling",
                step=20,
            ),
        ),
        evals=[evaluation(10, 0.5, cases=[case(hostile, True, 1.0, base_passed=False)])],
        web_ui='http://ui/"><script>',
    )
    html = report_html(report)
    page = Page(html)
    assert {"script", "img", "iframe", "b"}.isdisjoint(page.tags)
    assert f"Run {hostile}" in page.text
    assert page.curve("loss", "loss", run).attrs["data-run"] == run
    assert [e.attrs["data-outcome"] for e in page.find("td", case=hostile)] == ["pass", "fail"]
    assert page.find("a", web_ui="")[0].attrs["href"] == 'http://ui/"><script>'
    assert "stop-rule (lossCeiling) at step 20, requested by <b>rules</b>" in page.text
    compared = Page(compare_html([report, hand_report()]))
    assert {"script", "img", "iframe"}.isdisjoint(compared.tags)
    assert [tr.attrs["data-run"] for tr in compared.find("tr")] == [run, "train-nightly-20261129"]


def test_a_run_with_nothing_recorded_says_so() -> None:
    report = hand_report(
        running=True,
        answered=False,
        outcome=Outcome(state="running"),
        closed=None,
        metrics=MetricsSummary(),
        series=[],
        evals=[],
        checkpoints=[],
        best_step=None,
        web_ui=None,
    )
    page = Page(report_html(report))
    text = page.text
    for note in (
        "no loss recorded yet",
        "no learning rate recorded yet",
        "no checkpoint evaluated yet",
        "no evaluations recorded yet",
        "no checkpoint saved yet",
        "No worker answered its queries",
        "still running",
    ):
        assert note in text
    assert not {"svg", "polyline", "a"} & page.tags
    compared = Page(compare_html([report, report.model_copy(update={"workflow_id": "b"})]))
    assert "no run recorded a loss" in compared.text and "svg" not in compared.tags


def test_a_run_without_evaluations_still_has_its_curves() -> None:
    report = hand_report(evals=[], best_step=None)
    page = Page(report_html(report))
    assert_points(page.curve("loss", "loss", report.workflow_id), [(10, 1.5), (20, 1.1), (30, 0.9)])
    assert not page.find("polyline", series="eval-score")
    text = page.text
    assert "no checkpoint evaluated yet" in text and "no evaluations recorded yet" in text
    assert "not evaluated" in text  # the checkpoints are listed all the same


def test_compare_gives_each_run_its_colour_and_legend_entry() -> None:
    first = hand_report()
    second = hand_report(
        workflow_id="train-nightly-20261130",
        run_name="nightly 30",
        series=[MetricPoint(step=10, loss=2.0), MetricPoint(step=20, loss=1.0)],
    )
    html = compare_html([first, second])
    page = Page(html)
    strokes = [page.curve("loss", "loss", r.workflow_id).attrs["stroke"] for r in (first, second)]
    assert len(set(strokes)) == 2
    assert_points(page.curve("loss", "loss", second.workflow_id), [(10, 2.0), (20, 1.0)])
    # In the legends of the loss and eval score charts: it recorded no eval loss.
    assert html.count("nightly 30</li>") == 2
    # Runs of one name (a schedule's, say) are told apart by their ids.
    same_name = compare_html([first, second.model_copy(update={"run_name": "nightly"})])
    assert same_name.count(f"{second.workflow_id}</li>") == 2


def status_view(**fields: Any) -> StatusView:
    return StatusView(
        run_name="nightly",
        phase=Phase.RUNNING,
        job_id="job-1",
        step=20,
        max_steps=40,
        metrics=MetricsSummary(steps=20),
        checkpoints=[20],
        ledger=EventLedger(),
        links=0,
        **fields,
    )


def run_info(running: bool, **fields: Any) -> RunInfo:
    row = RunRow(
        workflow_id="train-nightly",
        run_id="r1",
        execution_status="RUNNING" if running else "COMPLETED",
        start_time=NOW - timedelta(minutes=5),
        close_time=None if running else NOW,
        run_name="nightly",
        model="m",
        phase="running" if running else "completed",
        job_id="job-1",
        checkpoint_step=20,
        best_eval=None,
    )
    return RunInfo(run=row, summary="s", details=None, **{"status": None, "result": None, **fields})


def test_report_of_takes_the_result_or_else_the_live_status() -> None:
    evals = [evaluation(20, 0.5), evaluation(40, 0.9)]
    result = RunResult(
        status=RunStatus.STOPPED,
        reason="loss above the ceiling",
        run_name="nightly",
        job_id="job-1",
        metrics=MetricsSummary(steps=40),
        series=[],
        checkpoints=[],
        ledger=EventLedger(),
        evals=evals,
        best_checkpoint=evals[1],
    )
    record = RunRecord([MetricPoint(step=5, loss=1.0)], evals)
    ended = report_of(run_info(False, result=result), record, web_ui=None, taken_at=NOW)
    assert (ended.outcome.state, ended.outcome.reason) == ("stopped", "loss above the ceiling")
    assert ended.best_step == 40 and ended.duration == timedelta(minutes=5)
    assert ended.series == record.series and not ended.running

    live = report_of(
        run_info(True, status=status_view(best_eval_step=20)), record, web_ui=None, taken_at=NOW
    )
    assert (live.outcome.state, live.checkpoints, live.best_step) == ("running", [20], 20)
    assert live.running and live.answered and live.closed is None

    silent = report_of(run_info(True), RunRecord([], []), web_ui=None, taken_at=NOW)
    assert silent.outcome.state == "running" and not silent.answered


def test_case_rows_line_cases_up_with_checkpoints_and_the_base() -> None:
    evals = [
        evaluation(10, 0.5, cases=[case("a", True, 1.0, base_passed=False, base_score=0.0)]),
        evaluation(
            20,
            0.5,
            cases=[
                case("b", False, 0.0, error="timeout"),
                case("a", True, 1.0, base_passed=True, base_score=1.0),
            ],
        ),
    ]
    rows = {row.name: row for row in case_rows(evals)}
    assert list(rows) == ["a", "b"]
    assert [cell.score if cell else None for cell in rows["a"].by_checkpoint] == [1.0, 1.0]
    assert rows["a"].base is not None and rows["a"].base.passed, "the latest base verdict"
    assert rows["b"].by_checkpoint[0] is None and rows["b"].base is None
    assert rows["b"].by_checkpoint[1] is not None and rows["b"].by_checkpoint[1].error == "timeout"


def test_default_file_names_are_safe() -> None:
    assert file_name("train-nightly-20261129T020000000") == "train-nightly-20261129T020000000"
    assert file_name("../etc/passwd") == "etc-passwd"
    assert file_name("a b/c") == "a-b-c"
    assert file_name("///") == "run"


def test_a_missing_browser_skips_unless_one_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(browser.REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="install Debian's chromium"):
        browser.chromium()
    monkeypatch.setenv(browser.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="ARKOR_REQUIRE_BROWSER=1"):
        browser.chromium()
