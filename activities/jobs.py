"""Creating (exactly once) and reading the backend job.

The Arkor API has no idempotency key, so the start is made safe to retry by us
(docs/protocol.md §14.3): the job config carries a marker unique to the workflow run,
the request carries an ``Idempotency-Key`` derived from it, and every retry
first looks for a job with that marker and adopts it instead of posting again.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from arkor_cloud import ApiStatusError, ArkorClient, PermanentApiError, TrainingJob
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.core.models import JobRef, JobSnapshot, JobState, StartJobInput
from arkor_temporal.core.names import MARKER_KEY, ActivityName, FailureType
from arkor_temporal.core.spec import SpecError, WireSchema
from arkor_temporal.telemetry.metrics import JOB_CANCEL_SECONDS, JOB_CANCELS

# Statuses for which posting the same body again cannot succeed.
_REJECTED = frozenset({400, 404, 409, 413, 415, 422})


def job_marker(job: TrainingJob) -> str | None:
    config = job.config if isinstance(job.config, dict) else {}
    tag = config.get(MARKER_KEY)
    return tag.get("marker") if isinstance(tag, dict) else None


def idempotency_key(marker: str) -> str:
    return hashlib.sha256(marker.encode()).hexdigest()[:40]


class JobActivities:
    def __init__(self, context: CloudContext) -> None:
        self._context = context

    @activity.defn(name=ActivityName.CREATE_OR_ADOPT_JOB)
    async def create_or_adopt_job(self, start: StartJobInput) -> JobRef:
        info = activity.info()
        config = _with_secrets(start, self._context.wire_schema)
        config[MARKER_KEY] = {"marker": start.marker, "workflowId": info.workflow_id}
        async with self._context.client() as client:
            if info.attempt > 1:
                # An earlier attempt may have created the job and lost the answer.
                for job in await client.list_jobs():
                    if job_marker(job) == start.marker:
                        activity.logger.info("adopted job %s created by an earlier attempt", job.id)
                        return JobRef(
                            job_id=job.id, run_name=job.name, marker=start.marker, adopted=True
                        )
            try:
                job = await client.create_job(
                    start.spec.name, config, idempotency_key=idempotency_key(start.marker)
                )
            except ApiStatusError as exc:
                if isinstance(exc, PermanentApiError) or exc.status in _REJECTED:
                    raise ApplicationError(
                        f"the backend rejected the job: {exc}",
                        type=FailureType.JOB_REJECTED,
                        non_retryable=True,
                    ) from exc
                raise
        return JobRef(job_id=job.id, run_name=job.name, marker=start.marker, adopted=False)

    @activity.defn(name=ActivityName.READ_JOB_STATUS)
    async def read_job_status(self, job_id: str) -> JobSnapshot:
        async with self._context.client() as client:
            return _snapshot(await client.get_job(job_id))

    @activity.defn(name=ActivityName.CANCEL_JOB)
    async def cancel_job(self, job_id: str) -> JobSnapshot:
        """Cancel the backend job and return its status once the backend shows it terminal.

        Every stop path ends here. The first attempt posts the cancel at once (latency
        matters); a retry, which may follow a crash mid-request, first reads the job so
        a cancel that already landed is not sent twice. 409 and 404 mean "nothing left
        to stop" only once ``GET /v1/jobs/:id`` agrees (docs/protocol.md §14.11). A job still
        running afterwards fails the attempt, so Temporal retries until it is terminal.

        Each attempt counts in ``arkor_job_cancels_total`` by outcome; the one that sees
        the job terminal observes ``arkor_job_cancel_seconds`` from the first attempt's
        scheduling.
        """
        try:
            outcome, snapshot = await self._cancel(job_id)
        except ApplicationError as exc:
            pending = exc.type == FailureType.CANCEL_PENDING
            JOB_CANCELS.labels(outcome="pending" if pending else "error").inc()
            raise
        except Exception:
            JOB_CANCELS.labels(outcome="error").inc()
            raise
        JOB_CANCELS.labels(outcome=outcome).inc()
        elapsed = datetime.now(UTC) - activity.info().scheduled_time
        JOB_CANCEL_SECONDS.observe(max(elapsed.total_seconds(), 0.0))
        return snapshot

    async def _cancel(self, job_id: str) -> tuple[str, JobSnapshot]:
        """The outcome (a label of ``arkor_job_cancels_total``) and the job's last status."""
        outcome = "cancelled"
        async with self._context.client() as client:
            if activity.info().attempt > 1:
                job = await _read_or_none(client, job_id)
                if job is None or job.status.is_terminal:
                    return ("missing" if job is None else "already_ended"), _snapshot(job, job_id)
            try:
                await client.cancel_job(job_id)
            except ApiStatusError as exc:
                if exc.status not in (404, 409):
                    raise
                activity.logger.info("cancel of job %s answered %s; checking", job_id, exc.status)
                outcome = "already_ended"
            job = await _read_or_none(client, job_id)
        if job is None:
            return "missing", _snapshot(job, job_id)
        if not job.status.is_terminal:
            raise ApplicationError(
                f"job {job_id} is still {job.status.value} after the cancel",
                type=FailureType.CANCEL_PENDING,
            )
        return outcome, _snapshot(job, job_id)


async def _read_or_none(client: ArkorClient, job_id: str) -> TrainingJob | None:
    try:
        return await client.get_job(job_id)
    except ApiStatusError as exc:
        if exc.status == 404:
            return None  # the backend no longer knows the job: nothing runs
        raise


def _snapshot(job: TrainingJob | None, job_id: str | None = None) -> JobSnapshot:
    if job is None:
        return JobSnapshot(job_id=job_id or "", status=JobState.MISSING)
    return JobSnapshot(job_id=job.id, status=JobState(job.status.value), error=job.error)


def _with_secrets(start: StartJobInput, wire_schema: WireSchema) -> dict[str, Any]:
    """The job config in this worker's wire schema, with the secrets the spec only references."""
    try:
        config = start.spec.job_config(wire_schema)
    except SpecError as exc:
        # The spec was valid where it was written; this worker's backend cannot take it.
        raise ApplicationError(
            f"the job config cannot be sent: {exc}",
            type=FailureType.JOB_REJECTED,
            non_retryable=True,
        ) from None
    env_name = start.spec.blob_token_env
    if env_name is not None:
        token = os.environ.get(env_name)
        if not token:
            raise ApplicationError(
                f"dataset.tokenEnv names {env_name}, which is not set on the worker; "
                f"export {env_name} in the worker's environment",
                type=FailureType.MISSING_SECRET,
                non_retryable=True,
            )
        config["datasetSource"] = {**config["datasetSource"], "token": token}
    return config
