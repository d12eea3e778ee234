"""Creating (exactly once) and reading the backend job.

The Arkor API has no idempotency key, so the start is made safe to retry by us
(protocol §14.3): the job config carries a marker unique to the workflow run,
the request carries an ``Idempotency-Key`` derived from it, and every retry
first looks for a job with that marker and adopts it instead of posting again.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.context import CloudContext
from arkor_cloud import ApiStatusError, PermanentApiError, TrainingJob
from workflows.models import JobRef, JobSnapshot, StartJobInput

MARKER_KEY = "arkorTemporal"
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

    @activity.defn
    async def create_or_adopt_job(self, start: StartJobInput) -> JobRef:
        info = activity.info()
        config = _with_secrets(start)
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
                        type="JobRejected",
                        non_retryable=True,
                    ) from exc
                raise
        return JobRef(job_id=job.id, run_name=job.name, marker=start.marker, adopted=False)

    @activity.defn
    async def read_job_status(self, job_id: str) -> JobSnapshot:
        async with self._context.client() as client:
            job = await client.get_job(job_id)
        return JobSnapshot(job_id=job.id, status=str(job.status), error=job.error)


def _with_secrets(start: StartJobInput) -> dict[str, Any]:
    """The job config with secrets the spec only references, resolved on this worker."""
    config = start.spec.job_config()
    env_name = start.spec.blob_token_env
    if env_name is not None:
        token = os.environ.get(env_name)
        if not token:
            raise ApplicationError(
                f"dataset.tokenEnv names {env_name}, which is not set on the worker; "
                f"export {env_name} in the worker's environment",
                type="MissingSecret",
                non_retryable=True,
            )
        config["datasetSource"] = {**config["datasetSource"], "token": token}
    return config
