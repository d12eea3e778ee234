"""The Temporal client API: start, follow, list and cancel runs; schedules; the reaper; setup."""
