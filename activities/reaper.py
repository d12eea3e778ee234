"""Finding orphaned backend jobs: created by one of our workflows, which no longer follows them.

A job is ours when its config carries our marker (``arkorTemporal.marker`` =
``<workflow id>/<first run id>``, see :mod:`activities.jobs`). It is an orphan
when it is not terminal and the workflow chain that created it is closed, was
replaced by another chain with the same id, or no longer exists (for example a
terminated workflow: termination runs no cleanup, so its GPU keeps running).
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.activities.context import CloudContext
from arkor_temporal.activities.jobs import job_marker
from arkor_temporal.core.models import OrphanJob, OrphanScan
from arkor_temporal.core.names import ActivityName


class ReaperActivities:
    def __init__(self, context: CloudContext) -> None:
        self._context = context

    @activity.defn(name=ActivityName.FIND_ORPHANS)
    async def find_orphans(self) -> OrphanScan:
        async with self._context.client() as cloud:
            jobs = await cloud.list_jobs()
        orphans = []
        checked = 0
        for job in jobs:
            marker = job_marker(job)
            if marker is None or job.status.is_terminal:
                continue
            checked += 1
            activity.heartbeat(checked)
            workflow_id, _, first_run_id = marker.rpartition("/")
            why = await self._why_orphaned(workflow_id, first_run_id)
            if why is not None:
                orphans.append(
                    OrphanJob(
                        job_id=job.id,
                        job_status=job.status.value,
                        workflow_id=workflow_id or None,
                        why=why,
                    )
                )
        return OrphanScan(checked=checked, orphans=orphans)

    async def _why_orphaned(self, workflow_id: str, first_run_id: str) -> str | None:
        try:
            description = await activity.client().get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return "its workflow no longer exists"
            raise
        info = description.raw_description.workflow_execution_info
        if info.first_run_id and info.first_run_id != first_run_id:
            return "its workflow id now belongs to another run"
        if description.status != WorkflowExecutionStatus.RUNNING:
            status = description.status.name.lower() if description.status else "closed"
            return f"its workflow is {status}"
        return None
