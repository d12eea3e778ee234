"""What a workflow catches from an activity that failed for good, for the record-keeping tests."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, RetryState


def retries_ran_out(activity_type: str, cause: ApplicationError) -> ActivityError:
    """The error of an ``activity_type`` call whose last attempt raised ``cause``."""
    error = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type=activity_type,
        activity_id="7",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    error.__cause__ = cause
    return error
