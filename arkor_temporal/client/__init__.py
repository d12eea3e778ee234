"""The Python API: start, follow, list and cancel runs; schedules; the reaper; setup.

Import from here, not from the modules inside (their layout may change)::

    from arkor_temporal.client import TemporalSettings, load_spec, start_run, wait_for_result

Nothing in this package imports workflow or activity code: runs are addressed by
the names in :mod:`arkor_temporal.core.names`, so a client needs no worker code.
"""

from arkor_temporal.client.connection import (
    ConnectionSettingsError,
    NamespaceNotFoundError,
    TemporalSettings,
    TemporalUnavailableError,
)
from arkor_temporal.client.reaper import install_reaper, reap_now, uninstall_reaper
from arkor_temporal.client.runs import (
    RunAlreadyExistsError,
    RunFilter,
    RunHandle,
    RunInfo,
    RunNotFoundError,
    RunRecord,
    RunRow,
    Snapshot,
    cancel_run,
    describe_run,
    exit_code,
    follow_run,
    get_run,
    list_runs,
    run_record,
    start_run,
    wait_for_result,
)
from arkor_temporal.client.script import run_script
from arkor_temporal.client.setup import register_search_attributes
from arkor_temporal.core.models import CancelAck, RunResult, RunStatus, StatusView
from arkor_temporal.core.spec import RunSpec, SpecError, load_spec, parse_spec

__all__ = [
    "CancelAck",
    "ConnectionSettingsError",
    "NamespaceNotFoundError",
    "RunAlreadyExistsError",
    "RunFilter",
    "RunHandle",
    "RunInfo",
    "RunNotFoundError",
    "RunRecord",
    "RunResult",
    "RunRow",
    "RunSpec",
    "RunStatus",
    "Snapshot",
    "SpecError",
    "StatusView",
    "TemporalSettings",
    "TemporalUnavailableError",
    "cancel_run",
    "describe_run",
    "exit_code",
    "follow_run",
    "get_run",
    "install_reaper",
    "list_runs",
    "load_spec",
    "parse_spec",
    "reap_now",
    "register_search_attributes",
    "run_record",
    "run_script",
    "start_run",
    "uninstall_reaper",
    "wait_for_result",
]
