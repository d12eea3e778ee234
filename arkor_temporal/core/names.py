"""Every name Temporal and the backend see: one place, so raiser and matcher never drift.

Workflow, signal, query and update names are recorded in histories; failure
types are matched by retry policies and by clients reading a failed run;
the marker key is written into every job config. Renaming any of them breaks
runs in flight and the recorded histories in ``tests/histories``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Self

from temporalio.common import SearchAttributeKey

DEFAULT_TASK_QUEUE: Final = "arkor-training"


@dataclass(frozen=True)
class TaskQueues:
    """The three task queues of one deployment, named after the one runs are started on.

    Each has its own slots on the worker, so no kind of work waits behind another
    (README, "Sizing a fleet"):

    * ``control``: the workflows and the short job calls (create, read status, cancel,
      the reaper's scan) that stopping a GPU depends on;
    * ``streams``: one long ``follow_job_events`` per running job;
    * ``work``: evaluations, hooks and notifications, which may take minutes.
    """

    control: str
    streams: str
    work: str

    @classmethod
    def of(cls, base: str) -> Self:
        return cls(control=base, streams=f"{base}-streams", work=f"{base}-work")


class WorkflowName(StrEnum):
    TRAINING_RUN = "TrainingRun"
    ORPHAN_REAPER = "OrphanReaper"


class ActivityName(StrEnum):
    CREATE_OR_ADOPT_JOB = "create_or_adopt_job"
    READ_JOB_STATUS = "read_job_status"
    CANCEL_JOB = "cancel_job"
    FOLLOW_JOB_EVENTS = "follow_job_events"
    EVALUATE_CHECKPOINT = "evaluate_checkpoint"
    RUN_HOOK = "run_hook"
    SEND_NOTIFICATION = "send_notification"
    FIND_ORPHANS = "find_orphans"
    CLOSE_AS_CANCELED = "close_as_canceled"


class TrainingRunMessage(StrEnum):
    """Signals, queries and updates of ``TrainingRun``."""

    RELAY_EVENTS = "relay_events"  # signal, internal: events from the stream activity
    REQUEST_CANCEL = "request_cancel"  # signal
    CANCEL = "cancel"  # update
    STATUS = "status"  # query
    METRICS = "metrics"  # query
    EVALUATIONS = "evaluations"  # query


class WorkflowMetric(StrEnum):
    """Counters ``TrainingRun`` records with the SDK's replay-safe meter (its Prometheus text)."""

    EVENTS_APPLIED = "arkor_events_applied_total"  # relayed events applied, once each
    EVENTS_DUPLICATE = "arkor_events_duplicate_total"  # repeats of applied events, dropped


class FailureType(StrEnum):
    """``ApplicationError`` types: how a run failed, or why an activity must not retry."""

    TRAINING_FAILED = "TrainingFailed"  # the backend reports the training failed
    START_FAILED = "StartFailed"  # the job could not be created
    FOLLOW_FAILED = "FollowFailed"  # the event stream was lost for good
    CRITICAL_HOOK_FAILED = "CriticalHookFailed"  # a hook marked critical failed
    STREAM_REFUSED = "StreamRefused"  # the backend refused the stream (401/403/410/426)
    WORKER_SHUTDOWN = "WorkerShutdown"  # the stream is handed to another worker
    HOOK_FAILED = "HookFailed"  # a user hook raised or returned a failure
    NOTIFICATION_UNDELIVERED = "NotificationUndelivered"
    JOB_REJECTED = "JobRejected"  # the backend refused the job config for good
    MISSING_SECRET = "MissingSecret"  # a secret the spec names is not set on the worker
    CANCEL_PENDING = "CancelPending"  # the job still runs after the cancel: retry
    JOB_LOST = "JobLost"  # the backend no longer knows the job (404 for too long)


# The memo key of a cancelled run's result: a Canceled execution has no result payload.
RESULT_MEMO: Final = "arkorResult"

# Written into each job's config: ``{MARKER_KEY: {"marker": ..., "workflowId": ...}}``.
MARKER_KEY: Final = "arkorTemporal"


def run_marker(workflow_id: str, first_execution_run_id: str) -> str:
    """The marker of one workflow chain's job: the same across retries and continue-as-new."""
    return f"{workflow_id}/{first_execution_run_id}"


# Set by Temporal on runs a Schedule starts.
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
