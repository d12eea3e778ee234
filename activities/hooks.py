"""Running one user hook (see :mod:`arkor_temporal.hooks` for events and arguments).

The hook runs in a worker thread (sync hooks must not block the worker's event
loop); an async hook's coroutine is awaited on the loop. Any exception or a
timeout fails the attempt with a retryable ``HookFailed`` error, so Temporal
retries it up to the spec's ``maxAttempts``. A timed-out sync hook cannot be
killed: its thread runs on, which is why hooks should be idempotent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from arkor_cloud import ArkorClient, ChatCompletion, ChatRequest
from arkor_temporal.activities.context import CloudContext
from arkor_temporal.core.hooks import CheckpointArgs, HookArgs, HookCall, HookOutcome, Infer
from arkor_temporal.core.imports import resolve_callable
from arkor_temporal.core.names import ActivityName, FailureType


def bound_infer(client: ArkorClient, adapter: dict[str, Any]) -> Infer:
    """``infer`` for one adapter: non-streaming chat through the worker's client."""

    async def infer(messages: list[dict[str, Any]], **knobs: Any) -> ChatCompletion:
        return await client.chat(ChatRequest(messages=messages, adapter=adapter, **knobs))

    return infer


class HookActivities:
    def __init__(self, context: CloudContext) -> None:
        self._context = context

    @activity.defn(name=ActivityName.RUN_HOOK)
    async def run_hook(self, call: HookCall) -> HookOutcome:
        attempt = activity.info().attempt
        deadline = asyncio.timeout(call.timeout_seconds)
        try:
            function = resolve_callable(call.import_path)
            async with self._context.client() as client:
                args = _bind(call.arguments(), client)
                async with deadline:
                    result = await asyncio.to_thread(function, args)
                    if inspect.isawaitable(result):
                        await result
        except Exception as exc:
            problem = (
                f"timed out after {call.timeout_seconds:g}s"
                if deadline.expired()
                else f"{type(exc).__name__}: {exc}"
            )
            activity.logger.warning(
                "%s hook %s failed (attempt %s): %s",
                call.event.spec_key,
                call.import_path,
                attempt,
                problem,
                exc_info=not deadline.expired(),
            )
            raise ApplicationError(
                f"{call.event.spec_key} hook {call.import_path} failed: {problem}",
                type=FailureType.HOOK_FAILED,
            ) from None
        return HookOutcome(
            event=call.event,
            import_path=call.import_path,
            ok=True,
            critical=call.critical,
            attempts=attempt,
        )


def _bind(args: HookArgs, client: ArkorClient) -> HookArgs:
    if isinstance(args, CheckpointArgs):
        return dataclasses.replace(args, infer=bound_infer(client, args.adapter))
    return args
