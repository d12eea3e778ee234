"""What every activity's log lines carry, bound once per activity attempt.

The worker puts :class:`ActivityLogContext` on each of its workers: for the length
of an attempt, ``structlog.contextvars`` holds the run's ``workflow_id`` and
``run_id``, the ``activity`` type, its ``attempt`` and, when the input names one,
the ``job_id``. Every line logged meanwhile (``activity.logger``, the Arkor client,
httpx at debug level) carries them in its JSON (:mod:`arkor_temporal.logs`), also
from tasks the activity starts, which copy the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from arkor_temporal.core.names import ActivityName

# Activities whose first argument is the job id itself.
_JOB_ID_ARGUMENT = frozenset({ActivityName.READ_JOB_STATUS, ActivityName.CANCEL_JOB})


def job_id_of(activity_type: str, args: Sequence[Any]) -> str | None:
    """The backend job an activity's input is about, if it names one."""
    if not args:
        return None
    first = args[0]
    if isinstance(first, str):
        return first if activity_type in _JOB_ID_ARGUMENT else None
    for holder in (first, getattr(first, "context", None), getattr(first, "job", None)):
        job_id = getattr(holder, "job_id", None)
        if isinstance(job_id, str):
            return job_id
    payload = getattr(first, "payload", None)  # a hook call's arguments
    if isinstance(payload, dict):
        for key in ("job_id", "jobId"):
            if isinstance(payload.get(key), str):
                return str(payload[key])
    return None


class ActivityLogContext(Interceptor):
    """Binds the activity's identity into the logging context for each attempt."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindLogContext(next)


class _BindLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        fields: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
        job_id = job_id_of(info.activity_type, input.args)
        if job_id is not None:
            fields["job_id"] = job_id
        with structlog.contextvars.bound_contextvars(**fields):
            return await super().execute_activity(input)
