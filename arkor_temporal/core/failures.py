"""Turning a failed activity, as the workflow sees it, into text for the run's records."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, FailureError

_LIMIT = 500


def activity_failure_text(error: BaseException) -> str:
    """The innermost reason: the activity's own error message, not Temporal's wrapper."""
    cause = error.cause if isinstance(error, ActivityError) and error.cause else error
    text = cause.message if isinstance(cause, FailureError) else str(cause)
    return text[:_LIMIT]
