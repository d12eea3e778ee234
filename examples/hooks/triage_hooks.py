"""Example hooks for the triage fine-tune: the SDK cookbook's callbacks, run durably.

Name them in a spec (the repository root is importable from where you run
``arkor-temporal`` and the worker)::

    hooks:
      onStarted: examples.hooks.triage_hooks:on_started
      onLog: examples.hooks.triage_hooks:on_log
      onCheckpoint: {importPath: "examples.hooks.triage_hooks:on_checkpoint", timeoutSeconds: 120}
      onCompleted: examples.hooks.triage_hooks:on_completed
      onFailed: examples.hooks.triage_hooks:on_failed
      onCancelled: examples.hooks.triage_hooks:on_cancelled

Each runs as an activity on the worker and may run again after a failure or a
lost worker, so hooks only log here; a hook with side effects should make them
idempotent (for example, keyed on ``workflow_id`` and the event).
"""

from __future__ import annotations

import logging

from arkor_temporal.core.hooks import (
    CancelledArgs,
    CheckpointArgs,
    CompletedArgs,
    FailedArgs,
    LogBatchArgs,
    StartedArgs,
)

log = logging.getLogger("triage_hooks")
PROBE = "My package has shown 'in transit' for two weeks and has not arrived."


def on_started(args: StartedArgs) -> None:
    log.info(
        "%s: job %s started on %s (%s steps)",
        args.run_name,
        args.job_id,
        args.model,
        args.max_steps,
    )


def on_log(args: LogBatchArgs) -> None:
    # Losses are None on steps without one (eval steps, non-finite values).
    losses = [entry.loss for entry in args.logs if entry.loss is not None]
    if losses:
        log.info("%s: step %s, loss %.4f", args.run_name, args.logs[-1].step, losses[-1])


async def on_checkpoint(args: CheckpointArgs) -> None:
    """The cookbook's mid-run eval: ask the new checkpoint a fixed question."""
    completion = await args.infer(
        messages=[{"role": "user", "content": PROBE}], max_tokens=32, temperature=0
    )
    log.info(
        "%s: checkpoint %s answers %r",
        args.run_name,
        args.step,
        completion.choices[0].message.content,
    )


def on_completed(args: CompletedArgs) -> None:
    best = args.best_checkpoint
    adapter = best["adapter"] if best else {"kind": "final", "jobId": args.job_id}
    log.info(
        "%s: completed after %s steps; deploy %s", args.run_name, args.metrics.get("steps"), adapter
    )


def on_failed(args: FailedArgs) -> None:
    log.error("%s: failed: %s", args.run_name, args.error)


def on_cancelled(args: CancelledArgs) -> None:
    log.warning("%s: %s: %s", args.run_name, args.status, args.reason)
