"""Sending the spec's notifications: each event decided once per run, one activity per webhook.

A notification never fails the run: a delivery whose retries are exhausted is
recorded as undelivered in the run's progress, like every other delivery.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

from arkor_temporal.workflows.policies import (
    NOTIFY_ATTEMPTS,
    NOTIFY_RETRY,
    NOTIFY_START_TO_CLOSE,
    task_queues,
)

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.activities.notify import NotifyActivities
    from arkor_temporal.core.evals import best_checkpoint
    from arkor_temporal.core.models import JobRef, RunProgressState, RunStatus
    from arkor_temporal.core.notifications import (
        DeliveryRecord,
        NotificationContext,
        NotificationInput,
        NotifyEvent,
        plan_notifications,
    )
    from arkor_temporal.core.spec import RunSpec


class Notifier:
    def __init__(self, spec: RunSpec, progress: RunProgressState) -> None:
        self._spec = spec
        self._progress = progress

    async def notify(
        self, event: NotifyEvent, job: JobRef | None, status: RunStatus | None, reason: str
    ) -> None:
        """Send the spec's notifications for ``event``, unless this run already has."""
        spec, progress = self._spec, self._progress
        if event.value in progress.notified or not spec.notifications:
            return
        progress.notified.append(event.value)
        best = best_checkpoint(progress.evals)
        context = NotificationContext(
            workflow_id=workflow.info().workflow_id,
            run_name=spec.name,
            event=event,
            status=status.value if status else progress.phase.value,
            reason=reason,
            job_id=job.job_id if job else None,
            steps=progress.summary.steps,
            max_steps=spec.max_steps,
            last_loss=progress.summary.last_loss,
            best_eval_score=best.score if best else None,
            best_eval_step=best.step if best else None,
        )
        deliveries = await asyncio.gather(
            *(self._deliver(n) for n in plan_notifications(spec.notifications, context))
        )
        progress.deliveries.extend(deliveries)

    async def _deliver(self, notification: NotificationInput) -> DeliveryRecord:
        try:
            return await workflow.execute_activity_method(
                NotifyActivities.send_notification,
                notification,
                task_queue=task_queues().work,
                start_to_close_timeout=NOTIFY_START_TO_CLOSE,
                retry_policy=NOTIFY_RETRY,
                summary=notification.summary[:200],
            )
        except ActivityError as exc:
            return DeliveryRecord.failure(notification, exc, NOTIFY_ATTEMPTS)
