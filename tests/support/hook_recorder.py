"""Test hooks that record every call as a JSON line in the file named by ``ARKOR_HOOK_RECORD``.

Use in a spec as ``tests.support.hook_recorder:on_started`` and so on. Each
line is ``{"type": <args class>, "event": ..., "args": <payload>}``; the
checkpoint hook also calls ``infer`` and records the adapter and the answer.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from arkor_temporal.core.hooks import (
    CancelledArgs,
    CheckpointArgs,
    CompletedArgs,
    FailedArgs,
    HookArgs,
    LogBatchArgs,
    StartedArgs,
)

RECORD_ENV = "ARKOR_HOOK_RECORD"
PROMPT = "I was charged twice for my subscription this month. Please refund the duplicate payment."


def _record(args: HookArgs, **extra: Any) -> None:
    path = os.environ.get(RECORD_ENV)
    if not path:
        raise RuntimeError(f"set {RECORD_ENV} to the file the recorder appends to")
    line = {"type": type(args).__name__, "event": args.event.value, "args": args.payload(), **extra}
    with Path(path).open("a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def on_started(args: StartedArgs) -> None:
    _record(args)


def on_log(args: LogBatchArgs) -> None:
    _record(args, steps=[entry.step for entry in args.logs])


async def on_checkpoint(args: CheckpointArgs) -> None:
    completion = await args.infer(messages=[{"role": "user", "content": PROMPT}], max_tokens=32)
    _record(args, adapter=args.adapter, answer=completion.choices[0].message.content)


def on_completed(args: CompletedArgs) -> None:
    _record(args)


def on_failed(args: FailedArgs) -> None:
    _record(args)


def on_cancelled(args: CancelledArgs) -> None:
    _record(args)


def explode(args: HookArgs) -> None:
    _record(args, exploded=True)
    raise RuntimeError(f"boom from the test hook at {args.event.value}")


async def stall(args: HookArgs) -> None:
    await asyncio.sleep(60)
