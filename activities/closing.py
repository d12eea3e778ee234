"""Closing a cancelled run as Canceled in Temporal, whichever way it was cancelled.

A workflow closes as Canceled only after Temporal was asked to cancel it, and it
cannot ask for itself (the server answers ``ExternalWorkflowExecutionNotFound``).
A run cancelled through the ``cancel`` update or the ``request_cancel`` signal
therefore asks from here, once its job is confirmed stopped and its result is in
its memo; the Web UI and every status filter then show it as Canceled.
"""

from __future__ import annotations

from temporalio import activity

from arkor_temporal.core.models import CloseAsCanceled
from arkor_temporal.core.names import ActivityName


@activity.defn(name=ActivityName.CLOSE_AS_CANCELED)
async def close_as_canceled(request: CloseAsCanceled) -> None:
    handle = activity.client().get_workflow_handle(request.workflow_id, run_id=request.run_id)
    await handle.cancel(reason=request.reason)
