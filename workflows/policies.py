"""Every timeout, retry policy and task queue the workflows give Temporal, in one place.

Where each activity runs, how long it may take, how it is retried, and how long
a run waits for work still in flight when it ends. Hook timeouts are not here: each hook's
come from the spec (:class:`~arkor_temporal.core.hooks.HookCall`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.core.names import FailureType, TaskQueues


def task_queues() -> TaskQueues:
    """The queues of this run's activities, named after the queue the run was started on.

    Job calls stay on the run's own queue; streams and slow work have queues (and worker
    slots) of their own, so a cancel never waits behind them.
    """
    return TaskQueues.of(workflow.info().task_queue)


# -- the job: create, follow, read, cancel ---------------------------------------------------

CREATE_JOB_START_TO_CLOSE = timedelta(seconds=60)
START_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20)
)
# A job may train for days; the heartbeat timeout, not this, detects a dead worker.
STREAM_START_TO_CLOSE = timedelta(days=14)
# Flat: a lost worker (heartbeat timeout) must not make the next hand-over wait longer.
# The follower backs off from the backend by itself, and the activity sets its own
# growing delay (``next_retry_delay``) for failures of its own (activities/stream.py).
STREAM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.0,
    maximum_interval=timedelta(seconds=1),
    non_retryable_error_types=[FailureType.STREAM_REFUSED, FailureType.JOB_LOST],
)
READ_STATUS_START_TO_CLOSE = timedelta(seconds=30)
READ_STATUS_RETRY = RetryPolicy(maximum_attempts=5)
CANCEL_START_TO_CLOSE = timedelta(seconds=20)
# Retried until the backend shows the job terminal: a stopped run must not leave a GPU running.
CANCEL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500), maximum_interval=timedelta(seconds=10)
)

# -- the run's end -----------------------------------------------------------------------------

# How long a job that completed just as we cancelled it may take to deliver its last events.
COMPLETED_TAIL_GRACE = timedelta(seconds=30)
# How long a stopped job's stream may take to end by itself with the logs not relayed yet
# (the run has concluded and answered its cancel by then; only its result waits).
STOPPED_TAIL_GRACE = timedelta(seconds=15)
# How long evaluations and hooks still running when the job ends may take to finish.
WORK_IN_FLIGHT_GRACE = timedelta(minutes=10)

# Asking Temporal to cancel a run cancelled by update or signal, so that it closes Canceled;
# past the grace, it closes Completed with the same result.
CLOSE_AS_CANCELED_START_TO_CLOSE = timedelta(seconds=30)
CLOSE_AS_CANCELED_RETRY = RetryPolicy(maximum_attempts=5)
CANCEL_REQUEST_GRACE = timedelta(seconds=60)

# -- evaluations and notifications -------------------------------------------------------------

# An evaluation may take the suite's timeoutSeconds; a silent one is given up after at most this.
EVAL_HEARTBEAT_AT_MOST = timedelta(seconds=60)
EVAL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3)
# The POST itself times out after 10 s; this bounds a lost worker.
NOTIFY_START_TO_CLOSE = timedelta(seconds=15)
NOTIFY_ATTEMPTS = 5
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=NOTIFY_ATTEMPTS,
)

# -- the orphan reaper -------------------------------------------------------------------------

FIND_ORPHANS_START_TO_CLOSE = timedelta(minutes=5)
FIND_ORPHANS_HEARTBEAT = timedelta(seconds=60)
FIND_ORPHANS_RETRY = RetryPolicy(maximum_attempts=3)
