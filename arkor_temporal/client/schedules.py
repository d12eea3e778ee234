"""Scheduled retraining: Temporal Schedules whose action is the training-run workflow.

Each scheduled run is an ordinary run: same workflow, input, search attributes,
summary and details as ``run start``; its workflow id is ``train-<schedule>-``
followed by the scheduled time (Temporal appends it). A run name may be a
template such as ``nightly-{date}`` (see :mod:`arkor_temporal.naming`): the
workflow renders it with the run's scheduled time. Overlap defaults to
``skip``: a run never starts while the previous one still trains.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleInfo,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from arkor_temporal.client.connection import namespace_missing
from arkor_temporal.client.runs import run_details, run_summary, start_attributes
from arkor_temporal.core.durations import parse_duration
from arkor_temporal.core.models import RunInput
from arkor_temporal.core.names import WorkflowName
from arkor_temporal.core.naming import slug
from arkor_temporal.core.spec import RunSpec

OVERLAP_POLICIES = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer-one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer-all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel-other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate-other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow-all": ScheduleOverlapPolicy.ALLOW_ALL,
}
_OVERLAP_NAMES = {policy: name for name, policy in OVERLAP_POLICIES.items()}
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#-]+$")
_SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TIMING_MEMO = "arkorTiming"


class ScheduleError(ValueError):
    """A schedule that cannot be created as asked; the message names the flag."""


class ScheduleNotFoundError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"no schedule named {name!r}; `arkor-temporal schedule list` shows the schedules"
        )


def validate_name(name: str) -> str:
    if not _SCHEDULE_NAME.match(name):
        raise ScheduleError(
            f"NAME {name!r}: use letters, digits, '.', '_' and '-' (at most 100), "
            "starting with a letter or digit"
        )
    return name


def validate_cron(expression: str) -> str:
    """A cron expression Temporal understands (5 to 7 fields, or a macro such as @daily)."""
    text = expression.strip()
    if text in _CRON_MACROS or text.startswith("@every "):
        return text
    fields = text.split()
    if not 5 <= len(fields) <= 7 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ScheduleError(
            f"--cron {expression!r} is not a cron expression; "
            "use 5 fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *', "
            "or a macro such as @daily (set the zone with --timezone)"
        )
    return text


@dataclass(frozen=True)
class Timing:
    """When a schedule fires: a cron expression or a fixed interval."""

    cron: str | None = None
    every: timedelta | None = None
    timezone: str | None = None
    jitter: timedelta | None = None

    @classmethod
    def parse(
        cls,
        *,
        cron: str | None,
        every: str | None,
        timezone: str | None = None,
        jitter: str | None = None,
    ) -> Timing:
        if (cron is None) == (every is None):
            raise ScheduleError("give exactly one of --cron EXPR or --every DURATION")
        if timezone:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ScheduleError(
                    f"--timezone {timezone!r} is not a time zone name, e.g. UTC or Europe/Paris"
                ) from None
        return cls(
            cron=validate_cron(cron) if cron is not None else None,
            every=_duration("--every", every),
            timezone=timezone,
            jitter=_duration("--jitter", jitter),
        )

    def spec(self) -> ScheduleSpec:
        return ScheduleSpec(
            cron_expressions=[self.cron] if self.cron else [],
            intervals=[ScheduleIntervalSpec(every=self.every)] if self.every else [],
            time_zone_name=self.timezone,
            jitter=self.jitter,
        )

    def describe(self) -> str:
        when = f"cron '{self.cron}'" if self.cron else f"every {self.every}"
        zone = f" ({self.timezone})" if self.timezone else ""
        jitter = f", jitter {self.jitter}" if self.jitter else ""
        return when + zone + jitter


def _duration(flag: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ScheduleError(f"{flag}: {exc}") from None


def build_schedule(
    spec: RunSpec,
    *,
    name: str,
    task_queue: str,
    timing: Timing,
    overlap: str = "skip",
    pause_on_failure: bool = False,
    paused: bool = False,
    note: str | None = None,
) -> Schedule:
    """A Schedule whose every action is an ordinary training run of ``spec``."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WorkflowName.TRAINING_RUN,
            RunInput(spec=spec),
            id=f"train-{slug(name) or 'scheduled'}",
            task_queue=task_queue,
            typed_search_attributes=start_attributes(spec),
            static_summary=f"[{name}] {run_summary(spec)}"[:200],
            static_details=run_details(spec),
        ),
        spec=timing.spec(),
        policy=SchedulePolicy(overlap=OVERLAP_POLICIES[overlap], pause_on_failure=pause_on_failure),
        state=ScheduleState(paused=paused, note=note),
    )


async def create_schedule(
    client: Client, name: str, schedule: Schedule, timing: Timing
) -> ScheduleHandle:
    try:
        return await client.create_schedule(
            validate_name(name), schedule, memo={TIMING_MEMO: timing.describe()}
        )
    except ScheduleAlreadyRunningError:
        raise ScheduleError(
            f"a schedule named {name!r} exists; delete it first or pick another NAME"
        ) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            flag = f"--cron {timing.cron!r}" if timing.cron else "schedule"
            raise ScheduleError(f"{flag}: Temporal refused it: {exc.message}") from None
        raise


# -- reading --------------------------------------------------------------------


class ActionView(BaseModel):
    workflow_id: str
    scheduled_at: datetime
    started_at: datetime

    @classmethod
    def of(cls, result: ScheduleActionResult) -> ActionView:
        action = result.action
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        return cls(
            workflow_id=action.workflow_id,
            scheduled_at=result.scheduled_at,
            started_at=result.started_at,
        )


class ScheduleRow(BaseModel):
    name: str
    timing: str
    timezone: str  # the zone its times are given in: the one set at create, else UTC
    paused: bool
    note: str | None
    next_action_times: list[datetime]  # in ``timezone``, so JSON carries its offset
    recent_actions: list[ActionView]


class ScheduleView(ScheduleRow):
    """Everything ``schedule describe`` shows."""

    overlap: str
    pause_on_failure: bool
    summary: str | None
    run_name: str
    model: str
    max_steps: int | None
    workflow_id_prefix: str
    task_queue: str
    running: list[str]
    queued: int
    actions_taken: int
    skipped_overlap: int
    created_at: datetime


def _handle(client: Client, name: str) -> ScheduleHandle:
    return client.get_schedule_handle(name)


async def describe_or_none(handle: ScheduleHandle) -> ScheduleDescription | None:
    """The schedule's description, or None when there is no such schedule."""
    try:
        return await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and not namespace_missing(exc):
            return None
        raise


async def _description(client: Client, name: str) -> ScheduleDescription:
    """Schedule ``name``'s description; ScheduleNotFoundError unless it starts training runs."""
    description = await describe_or_none(_handle(client, name))
    action = description.schedule.action if description else None
    if (
        description is None
        or not isinstance(action, ScheduleActionStartWorkflow)
        or action.workflow != WorkflowName.TRAINING_RUN
    ):
        raise ScheduleNotFoundError(name)
    return description


def _zone(spec: ScheduleSpec) -> ZoneInfo:
    """The zone a schedule's times read in: its own, else UTC (also if this host lacks it)."""
    try:
        return ZoneInfo(spec.time_zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _in_zone(zone: ZoneInfo, times: Sequence[datetime]) -> list[datetime]:
    return [t.astimezone(zone) for t in times]


def _running(info: ScheduleInfo) -> list[str]:
    return [
        r.workflow_id
        for r in info.running_actions
        if isinstance(r, ScheduleActionExecutionStartWorkflow)
    ]


def _queued(description: ScheduleDescription) -> int:
    """Actions waiting for a running one to end (buffer-one, buffer-all, cancel-other).

    The SDK's ScheduleInfo leaves this count out; the response carries it.
    """
    return description.raw_description.info.buffer_size


async def describe_schedule(client: Client, name: str) -> ScheduleView:
    description = await _description(client, name)
    schedule, info = description.schedule, description.info
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)  # checked by _description
    [run_input] = await client.data_converter.decode(action.args, [RunInput])
    summary = action.static_summary
    summary_text: str | None = (
        (await client.data_converter.decode([summary], [str]))[0]
        if summary is not None and not isinstance(summary, str)
        else summary
    )
    spec: RunSpec = run_input.spec
    zone = _zone(schedule.spec)
    return ScheduleView(
        name=name,
        timing=await description.memo_value(TIMING_MEMO, _timing_of(schedule.spec)),
        timezone=zone.key,
        next_action_times=_in_zone(zone, info.next_action_times),
        paused=schedule.state.paused,
        note=schedule.state.note or None,
        recent_actions=[ActionView.of(r) for r in info.recent_actions],
        overlap=_overlap_name(schedule.policy.overlap),
        pause_on_failure=schedule.policy.pause_on_failure,
        summary=summary_text,
        run_name=spec.name,
        model=spec.model,
        max_steps=spec.max_steps,
        workflow_id_prefix=action.id,
        task_queue=action.task_queue,
        running=_running(info),
        queued=_queued(description),
        actions_taken=info.num_actions,
        skipped_overlap=info.num_actions_skipped_overlap,
        created_at=info.created_at,
    )


def _overlap_name(policy: ScheduleOverlapPolicy) -> str:
    return _OVERLAP_NAMES.get(policy, str(policy))


def _timing_of(spec: ScheduleSpec) -> str:
    """A fallback description for schedules not created by this tool."""
    parts = [f"every {i.every}" for i in spec.intervals] + [
        f"cron '{c}'" for c in spec.cron_expressions
    ]
    if spec.calendars:
        parts.append(f"{len(spec.calendars)} calendar rule(s)")
    return ", ".join(parts) or "manual only"


async def list_schedules(client: Client) -> list[ScheduleRow]:
    """Training-run schedules (eventually consistent: a new one may take a moment)."""
    rows: list[ScheduleRow] = []
    async for entry in await client.list_schedules():
        listed = entry.schedule
        action = listed.action if listed else None
        if listed is None or getattr(action, "workflow", None) != WorkflowName.TRAINING_RUN:
            continue
        recent = entry.info.recent_actions if entry.info else []
        upcoming = entry.info.next_action_times if entry.info else []
        zone = _zone(listed.spec)
        rows.append(
            ScheduleRow(
                name=entry.id,
                timing=await entry.memo_value(TIMING_MEMO, _timing_of(listed.spec)),
                timezone=zone.key,
                next_action_times=_in_zone(zone, upcoming),
                paused=listed.state.paused,
                note=listed.state.note or None,
                recent_actions=[ActionView.of(r) for r in recent],
            )
        )
    return sorted(rows, key=lambda row: row.name)


# -- acting ---------------------------------------------------------------------


async def _existing(client: Client, name: str) -> ScheduleHandle:
    await _description(client, name)  # raises ScheduleNotFoundError
    return _handle(client, name)


async def pause_schedule(client: Client, name: str, note: str | None = None) -> None:
    await (await _existing(client, name)).pause(note=note or "paused with arkor-temporal")


async def unpause_schedule(client: Client, name: str, note: str | None = None) -> None:
    await (await _existing(client, name)).unpause(note=note or "unpaused with arkor-temporal")


TriggerOutcome = Literal["started", "queued", "skipped", "unknown"]
TRIGGER_WAIT = 10.0  # seconds: a schedule takes a trigger within a moment; never hang on one
_TRIGGER_POLL = 0.2


class Triggered(BaseModel):
    """What became of one trigger: the run it started, or why it started none (yet)."""

    schedule: str
    outcome: TriggerOutcome
    overlap: str  # the policy that applied
    workflow_id: str | None = None
    run_id: str | None = None
    running: list[str]  # the schedule's runs that were running when it was triggered


@dataclass(frozen=True)
class _Tally:
    """A schedule's counters; two of them, around a trigger, tell what became of it."""

    actions: int
    skipped: int  # skipped for overlap, or dropped from a full buffer
    queued: int
    recent: tuple[ScheduleActionExecutionStartWorkflow, ...]

    @classmethod
    def of(cls, description: ScheduleDescription) -> _Tally:
        info, raw = description.info, description.raw_description.info
        return cls(
            actions=info.num_actions,
            skipped=info.num_actions_skipped_overlap + raw.buffer_dropped,
            queued=raw.buffer_size,
            recent=tuple(
                r.action
                for r in info.recent_actions
                if isinstance(r.action, ScheduleActionExecutionStartWorkflow)
            ),
        )

    def since(
        self, earlier: _Tally
    ) -> tuple[TriggerOutcome, ScheduleActionExecutionStartWorkflow | None] | None:
        """The trigger's outcome if these counters show one, else None (not taken yet)."""
        seen = {a.workflow_id for a in earlier.recent}
        new = [a for a in self.recent if a.workflow_id not in seen]
        if self.actions > earlier.actions and new:
            # A scheduled action due at the same moment would look the same; take the newest.
            return "started", new[-1]
        if self.skipped > earlier.skipped:
            return "skipped", None
        if self.queued > earlier.queued:
            return "queued", None
        return None


async def _outcome(
    handle: ScheduleHandle, earlier: _Tally
) -> tuple[TriggerOutcome, ScheduleActionExecutionStartWorkflow | None]:
    """Poll the schedule until its counters show what became of the trigger."""
    while True:
        seen = _Tally.of(await handle.describe()).since(earlier)
        if seen is not None:
            return seen
        await asyncio.sleep(_TRIGGER_POLL)


async def trigger_schedule(client: Client, name: str, overlap: str | None = None) -> Triggered:
    """Take the action now (also when paused), under the schedule's overlap policy by default.

    Temporal's trigger returns nothing, so this watches the schedule's counters for up
    to TRIGGER_WAIT seconds to learn whether the run started, was queued behind a running
    one, or was skipped ("unknown" when none of these showed in time).
    """
    before = await _description(client, name)
    handle = _handle(client, name)
    await handle.trigger(overlap=OVERLAP_POLICIES[overlap] if overlap else None)
    try:
        outcome, started = await asyncio.wait_for(_outcome(handle, _Tally.of(before)), TRIGGER_WAIT)
    except TimeoutError:
        outcome, started = "unknown", None
    return Triggered(
        schedule=name,
        outcome=outcome,
        overlap=overlap or _overlap_name(before.schedule.policy.overlap),
        workflow_id=started.workflow_id if started else None,
        run_id=started.first_execution_run_id if started else None,
        running=_running(before.info),
    )


async def backfill_schedule(
    client: Client, name: str, start: datetime, end: datetime, overlap: str = "buffer-all"
) -> None:
    """Take the actions the schedule would have taken between ``start`` and ``end``."""
    if end <= start:
        raise ScheduleError("--to must be later than --from")
    handle = await _existing(client, name)
    await handle.backfill(
        ScheduleBackfill(start_at=start, end_at=end, overlap=OVERLAP_POLICIES[overlap])
    )


class Deleted(BaseModel):
    """What deleting a schedule left running and what it dropped."""

    schedule: str
    still_running: list[str]  # runs it started: deleting a schedule stops none of them
    dropped_queued: int  # actions that were waiting for a running one to end


async def delete_described(handle: ScheduleHandle, description: ScheduleDescription) -> Deleted:
    """Delete the schedule ``description`` describes; say what that leaves and drops.

    The counts are those of the description: a run starting in between is not in them.
    """
    await handle.delete()
    return Deleted(
        schedule=handle.id,
        still_running=_running(description.info),
        dropped_queued=_queued(description),
    )


async def delete_schedule(client: Client, name: str) -> Deleted:
    """Delete the schedule; runs it already started go on, queued ones are dropped."""
    description = await _description(client, name)
    return await delete_described(_handle(client, name), description)
