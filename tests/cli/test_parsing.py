"""The pure parts behind the flags: durations, cron checks, run-name templates, list filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arkor_temporal.client.runs import RunFilter
from arkor_temporal.client.schedules import ScheduleError, Timing, validate_cron
from arkor_temporal.core.durations import parse_duration, parse_instant, parse_since
from arkor_temporal.core.naming import render_run_name, slug

NOW = datetime(2026, 11, 29, 2, 0, 5, tzinfo=UTC)


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration("1d") == timedelta(days=1)
    for bad in ("", "5", "5x", "h", "0m", "1h-2m"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("2026-11-28", NOW) == datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_instant("2026-11-28T01:00:00+01:00") == datetime(2026, 11, 28, tzinfo=UTC)


def test_cron_and_timing() -> None:
    assert validate_cron(" 0 2 * * 1-5 ") == "0 2 * * 1-5"
    assert validate_cron("@daily") == "@daily"
    for bad in ("0 2 * *", "every day", "0 2 * * * * * *", "CRON_TZ=UTC 0 2 * * *"):
        with pytest.raises(ScheduleError, match="--cron"):
            validate_cron(bad)
    timing = Timing.parse(cron="0 2 * * *", every=None, timezone="Europe/Paris", jitter="5m")
    assert timing.describe() == "cron '0 2 * * *' (Europe/Paris), jitter 0:05:00"
    assert timing.spec().cron_expressions == ["0 2 * * *"]
    assert Timing.parse(cron=None, every="6h").spec().intervals[0].every == timedelta(hours=6)


def test_run_name_templates_render_with_the_scheduled_time() -> None:
    assert render_run_name("nightly-{date}", NOW) == "nightly-2026-11-29"
    assert render_run_name("r-{datetime}", NOW) == "r-2026-11-29T0200Z"
    assert render_run_name("r-{timestamp}-{time}", NOW) == "r-20261129T020005Z-0200"
    assert render_run_name("keep {other} {date", NOW) == "keep {other} {date"
    assert slug("Nightly {date} LLM") == "nightly-llm"


def test_list_filter_always_selects_training_runs_and_quotes_values() -> None:
    assert RunFilter().query() == "WorkflowType = 'TrainingRun'"
    query = RunFilter(
        phase="running", model="m", name="nightly-*", since=NOW, running=False
    ).query()
    assert query == (
        "WorkflowType = 'TrainingRun' AND ArkorPhase = 'running' AND ArkorModel = 'm' "
        "AND ArkorRunName STARTS_WITH 'nightly-' AND StartTime >= '2026-11-29T02:00:05Z' "
        "AND ExecutionStatus != 'Running'"
    )
    assert "ArkorRunName = 'it\\'s'" in RunFilter(name="it's").query()
