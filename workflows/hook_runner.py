"""Running the spec's user hooks, one activity per call.

Hooks for events during the run (started, logs, checkpoints) run in the
background; the end hook runs in line, so the run's outcome can depend on it.
A failure is recorded in the run's progress; a critical hook that fails asks
for the run to stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from arkor_temporal.workflows.in_flight import Spawn
from arkor_temporal.workflows.policies import task_queues

with workflow.unsafe.imports_passed_through():
    from arkor_temporal.activities.hooks import HookActivities
    from arkor_temporal.core.evals import best_checkpoint
    from arkor_temporal.core.hooks import (
        CancelledArgs,
        CheckpointArgs,
        CompletedArgs,
        FailedArgs,
        HookArgs,
        HookCall,
        HookOutcome,
        LogBatchArgs,
        StartedArgs,
    )
    from arkor_temporal.core.models import (
        JobRef,
        RunEvent,
        RunProgressState,
        RunStatus,
        StopDecision,
        StopKind,
    )
    from arkor_temporal.core.spec import RunSpec


class HookRunner:
    def __init__(
        self,
        spec: RunSpec,
        progress: RunProgressState,
        *,
        spawn: Spawn,
        request_stop: Callable[[StopDecision], bool],
    ) -> None:
        self._spec = spec
        self._progress = progress
        self._spawn = spawn
        self._request_stop = request_stop

    def started(self, job: JobRef | None) -> None:
        spec = self._spec
        self._later(StartedArgs(**self._ids(job), model=spec.model, max_steps=spec.max_steps))

    def logged(self, job: JobRef | None, logs: list[RunEvent]) -> None:
        """One call for the logs of one relayed batch."""
        self._later(LogBatchArgs(**self._ids(job), logs=[log.log_entry() for log in logs]))

    def checkpoint_saved(self, job: JobRef | None, step: int, artifacts: list[Any]) -> None:
        self._later(CheckpointArgs(**self._ids(job), step=step, artifacts=artifacts))

    async def run_end_hook(
        self, job: JobRef | None, status: RunStatus, reason: str
    ) -> HookOutcome | None:
        """Run the hook for how the run ended, if the spec has one, and wait for it."""
        call = self._call_for(self._end_args(job, status, reason))
        return await self._run(call) if call is not None else None

    def _later(self, args: HookArgs) -> None:
        call = self._call_for(args)
        if call is not None:
            self._spawn(self._run(call))

    def _call_for(self, args: HookArgs) -> HookCall | None:
        hooks = self._spec.hooks
        return hooks.call_for(args) if hooks is not None else None

    async def _run(self, call: HookCall) -> HookOutcome:
        try:
            return await workflow.execute_activity_method(
                HookActivities.run_hook,
                call,
                task_queue=task_queues().work,
                start_to_close_timeout=call.start_to_close_timeout,
                retry_policy=call.retry_policy,
                summary=call.summary[:200],
            )
        except ActivityError as exc:
            outcome = HookOutcome.failure(call, exc)
        self._progress.hook_failures.append(outcome)
        if outcome.critical:
            self._request_stop(
                StopDecision(
                    kind=StopKind.CRITICAL_HOOK,
                    reason=f"critical hook failed: {outcome.error}",
                    requested_by="hooks",
                    rule=call.event.spec_key,
                )
            )
        return outcome

    def _end_args(self, job: JobRef | None, status: RunStatus, reason: str) -> HookArgs:
        ids, progress = self._ids(job), self._progress
        if status is RunStatus.COMPLETED:
            best = best_checkpoint(progress.evals)
            terminal = progress.terminal_event
            return CompletedArgs(
                **ids,
                artifacts=(terminal.artifacts or []) if terminal else [],
                metrics=progress.summary.model_dump(),
                best_checkpoint=best.model_dump(mode="json") if best else None,
            )
        if status is RunStatus.FAILED:
            return FailedArgs(**ids, error=reason)
        return CancelledArgs(**ids, status=status.value, reason=reason)  # type: ignore[arg-type]

    def _ids(self, job: JobRef | None) -> dict[str, Any]:
        return {
            "run_name": self._spec.name,
            "job_id": job.job_id if job else None,
            "workflow_id": workflow.info().workflow_id,
        }
