"""The orphan reaper: cancels backend jobs whose workflow no longer follows them.

Run on a Temporal Schedule (``arkor-temporal reaper install``). Cancels go
through the same ``cancel_job`` activity as every other stop, so each is
confirmed by the backend.
"""

from __future__ import annotations

from temporalio import workflow

from arkor_temporal.workflows.policies import (
    CANCEL_RETRY,
    CANCEL_START_TO_CLOSE,
    FIND_ORPHANS_HEARTBEAT,
    FIND_ORPHANS_RETRY,
    FIND_ORPHANS_START_TO_CLOSE,
)

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.activities.jobs import JobActivities
    from arkor_temporal.activities.reaper import ReaperActivities
    from arkor_temporal.core.models import ReaperInput, ReaperReport
    from arkor_temporal.core.names import WorkflowName


@workflow.defn(name=WorkflowName.ORPHAN_REAPER)
class OrphanReaper:
    @workflow.run
    async def run(self, reaper_input: ReaperInput) -> ReaperReport:
        scan = await workflow.execute_activity_method(
            ReaperActivities.find_orphans,
            start_to_close_timeout=FIND_ORPHANS_START_TO_CLOSE,
            heartbeat_timeout=FIND_ORPHANS_HEARTBEAT,
            retry_policy=FIND_ORPHANS_RETRY,
            summary="find backend jobs whose workflow is gone",
        )
        cancelled = []
        if not reaper_input.dry_run:
            for orphan in scan.orphans:
                workflow.logger.info("cancelling orphan job %s: %s", orphan.job_id, orphan.why)
                cancelled.append(
                    await workflow.execute_activity_method(
                        JobActivities.cancel_job,
                        orphan.job_id,
                        start_to_close_timeout=CANCEL_START_TO_CLOSE,
                        retry_policy=CANCEL_RETRY,
                        summary=f"cancel orphan job {orphan.job_id}: {orphan.why}"[:200],
                    )
                )
        return ReaperReport(checked=scan.checked, orphans=scan.orphans, cancelled=cancelled)
