"""The pure parts of the schedule and reaper views: relative times, zoned next runs, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from arkor_temporal.cli.views.reaper import uninstalled_text
from arkor_temporal.cli.views.schedules import deleted_text, next_runs, relative_time
from arkor_temporal.client.schedules import Deleted, ScheduleRow

NOW = datetime(2026, 11, 29, 2, 0, 5, tzinfo=UTC)


def later(**span: float) -> str:
    return relative_time(NOW + timedelta(**span), NOW)


def test_relative_time_names_the_two_largest_units_rounded_down() -> None:
    assert later(seconds=45) == "in 45 s"
    assert later(seconds=90) == "in 1 min 30 s"
    assert later(minutes=12, seconds=0.9) == "in 12 min"
    assert later(hours=6) == "in 6 h"
    assert later(hours=5, minutes=59, seconds=59) == "in 5 h 59 min"
    assert later(days=2, hours=3, minutes=4) == "in 2 d 3 h"
    assert later(days=1, minutes=5) == "in 1 d", "a zero unit between ends the span"
    assert later(minutes=-3) == "3 min ago"
    assert later(days=-1, hours=-2) == "1 d 2 h ago"
    assert later(seconds=0.4) == later(seconds=-0.4) == "now"


def test_next_runs_read_in_the_schedules_zone_with_how_far_off() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    times = [datetime(2026, 11, 29, 2, tzinfo=tokyo) + timedelta(days=d) for d in range(3)]
    row = ScheduleRow(
        name="nightly",
        timing="cron '0 2 * * *' (Asia/Tokyo)",
        timezone="Asia/Tokyo",
        paused=False,
        note=None,
        next_action_times=times,
        recent_actions=[],
    )
    now = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)  # 20:00 in Tokyo
    assert next_runs(row, 2, now) == (
        "2026-11-29 02:00:00+09:00 (in 6 h), 2026-11-30 02:00:00+09:00 (in 1 d 6 h)"
    )
    assert row.model_dump(mode="json")["next_action_times"][0] == "2026-11-29T02:00:00+09:00"
    assert next_runs(row.model_copy(update={"next_action_times": []}), 2, now) == "none"


def test_delete_and_uninstall_reports_say_what_goes_on() -> None:
    kept = Deleted(schedule="nightly", still_running=["train-a", "train-b"], dropped_queued=1)
    assert deleted_text(kept).splitlines() == [
        "deleted schedule nightly",
        "2 runs it started keep running (deleting a schedule stops no run): train-a, train-b",
        "1 queued run dropped",
    ]
    nothing = Deleted(schedule="nightly", still_running=[], dropped_queued=0)
    assert deleted_text(nothing).splitlines()[1:] == [
        "no run it started is running",
        "no queued run dropped",
    ]
    in_flight = Deleted(schedule="arkor-orphan-reaper", still_running=["r-1"], dropped_queued=0)
    assert uninstalled_text(in_flight).endswith("its run r-1 is in flight and finishes its pass")
    assert uninstalled_text(nothing.model_copy(update={"schedule": "x"})).endswith(
        "no reaper run was in flight"
    )
    assert "is not installed" in uninstalled_text(None)
