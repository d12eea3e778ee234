"""The Grafana dashboard (deploy/grafana/arkor-temporal.json) cannot drift from the metrics.

Every query names only metrics a worker exports: ours from their definitions, the
workflow's counters from their names, the SDK's from the list that
tests/workflow/test_observability.py finds in a real worker's scrape. And every metric
of ours has a panel.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from arkor_temporal.core.names import WorkflowMetric
from arkor_temporal.telemetry.metrics import REGISTRY, RUNS_METRIC, SDK_METRICS
from tests.deploy.deploy import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "arkor-temporal.json"
METRIC_NAME = re.compile(r"\b((?:arkor|temporal|process)_[a-zA-Z0-9_]+)\b")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def series_of(family_name: str, kind: str) -> set[str]:
    """The series names a metric family is exposed as."""
    if kind == "counter":
        return {f"{family_name}_total"}
    if kind == "histogram":
        return {f"{family_name}{suffix}" for suffix in HISTOGRAM_SERIES}
    return {family_name}


def exported_names() -> set[str]:
    """Every series name a worker's ``--metrics`` endpoint can answer with."""
    names = {name for f in REGISTRY.collect() for name in series_of(f.name, f.type)}
    names.add(RUNS_METRIC)
    names |= {metric.value for metric in WorkflowMetric}
    names |= {f"{name}{suffix}" for name in SDK_METRICS for suffix in ("", *HISTOGRAM_SERIES)}
    return names


def ours() -> set[str]:
    """The metric families this project defines (the process collector's aside)."""
    families = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in REGISTRY.collect()
        if family.name.startswith("arkor_")
    }
    return families | {RUNS_METRIC} | {metric.value for metric in WorkflowMetric}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel["targets"]]


def test_the_dashboard_is_importable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "arkor-temporal" and dashboard["schemaVersion"] >= 39
    [variable] = dashboard["templating"]["list"]
    assert variable == {
        **variable,
        "type": "datasource",
        "name": "datasource",
        "query": "prometheus",
    }
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["refId"] for t in panel["targets"]), panel["title"]


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_query_names_a_metric_the_worker_exports(dashboard: dict[str, Any]) -> None:
    known = exported_names()
    unknown = {
        (name, expr)
        for expr in expressions(dashboard)
        for name in METRIC_NAME.findall(expr)
        if name not in known
    }
    assert unknown == set()


def test_every_metric_of_ours_and_the_sdks_has_a_panel(dashboard: dict[str, Any]) -> None:
    used = {name for expr in expressions(dashboard) for name in METRIC_NAME.findall(expr)}
    base = {
        name.removesuffix(suffix)
        for name in used
        for suffix in HISTOGRAM_SERIES
        if name.endswith(suffix)
    } | used
    assert ours() - base == set()
    assert set(SDK_METRICS) - base == set()
