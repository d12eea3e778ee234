"""Scheduled retraining: Temporal Schedules whose action is the training-run workflow.

Each scheduled run is an ordinary run: same workflow, input, search attributes,
summary and details as ``run start``; its workflow id is ``train-<schedule>-``
followed by the scheduled time (Temporal appends it). A run name may be a
template such as ``nightly-{date}`` (see :mod:`arkor_temporal.naming`): the
workflow renders it with the run's scheduled time. Overlap defaults to
``skip``: a run never starts while the previous one still trains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

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
    paused: bool
    note: str | None
    next_action_times: list[datetime]
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
    actions_taken: int
    skipped_overlap: int
    created_at: datetime


def _handle(client: Client, name: str) -> ScheduleHandle:
    return client.get_schedule_handle(name)


async def describe_schedule(client: Client, name: str) -> ScheduleView:
    try:
        description = await _handle(client, name).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ScheduleNotFoundError(name) from None
        raise
    schedule, info = description.schedule, description.info
    action = schedule.action
    if (
        not isinstance(action, ScheduleActionStartWorkflow)
        or action.workflow != WorkflowName.TRAINING_RUN
    ):
        raise ScheduleNotFoundError(name)
    [run_input] = await client.data_converter.decode(action.args, [RunInput])
    summary = action.static_summary
    summary_text: str | None = (
        (await client.data_converter.decode([summary], [str]))[0]
        if summary is not None and not isinstance(summary, str)
        else summary
    )
    spec: RunSpec = run_input.spec
    return ScheduleView(
        name=name,
        timing=await description.memo_value(TIMING_MEMO, _timing_of(schedule.spec)),
        paused=schedule.state.paused,
        note=schedule.state.note or None,
        next_action_times=list(info.next_action_times),
        recent_actions=[ActionView.of(r) for r in info.recent_actions],
        overlap=_OVERLAP_NAMES.get(schedule.policy.overlap, str(schedule.policy.overlap)),
        pause_on_failure=schedule.policy.pause_on_failure,
        summary=summary_text,
        run_name=spec.name,
        model=spec.model,
        max_steps=spec.max_steps,
        workflow_id_prefix=action.id,
        task_queue=action.task_queue,
        running=[
            r.workflow_id
            for r in info.running_actions
            if isinstance(r, ScheduleActionExecutionStartWorkflow)
        ],
        actions_taken=info.num_actions,
        skipped_overlap=info.num_actions_skipped_overlap,
        created_at=info.created_at,
    )


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
        rows.append(
            ScheduleRow(
                name=entry.id,
                timing=await entry.memo_value(TIMING_MEMO, _timing_of(listed.spec)),
                paused=listed.state.paused,
                note=listed.state.note or None,
                next_action_times=list(upcoming),
                recent_actions=[ActionView.of(r) for r in recent],
            )
        )
    return sorted(rows, key=lambda row: row.name)


# -- acting ---------------------------------------------------------------------


async def _existing(client: Client, name: str) -> ScheduleHandle:
    await describe_schedule(client, name)  # raises ScheduleNotFoundError
    return _handle(client, name)


async def pause_schedule(client: Client, name: str, note: str | None = None) -> None:
    await (await _existing(client, name)).pause(note=note or "paused with arkor-temporal")


async def unpause_schedule(client: Client, name: str, note: str | None = None) -> None:
    await (await _existing(client, name)).unpause(note=note or "unpaused with arkor-temporal")


async def trigger_schedule(client: Client, name: str, overlap: str | None = None) -> None:
    """Take the action now (also when paused), under the schedule's overlap policy by default."""
    policy = OVERLAP_POLICIES[overlap] if overlap else None
    await (await _existing(client, name)).trigger(overlap=policy)


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


async def delete_schedule(client: Client, name: str) -> None:
    """Delete the schedule; runs it already started go on."""
    await (await _existing(client, name)).delete()
