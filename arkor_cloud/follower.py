"""Follow a job's event stream across disconnects: docs/protocol.md §3.5, exactly,
plus the project decisions §14.4 to §14.9 (`end` is not proof, reconcile through
`GET /v1/jobs/:id`, idle timeout, tolerant frame parsing).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import structlog
from pydantic import BaseModel, ConfigDict, Field

from arkor_cloud.client import ArkorClient
from arkor_cloud.errors import (
    ApiStatusError,
    ArkorError,
    JobLostError,
    PermanentApiError,
    StreamGaveUpError,
    TransportError,
)
from arkor_cloud.events import StreamEvent, parse_event
from arkor_cloud.models import TrainingJob

__all__ = ["EventFollower", "ReconnectPolicy"]

_log = structlog.get_logger("arkor_cloud.follower")


class ReconnectPolicy(BaseModel):
    """Reconnect tunables, in seconds. Defaults are the SDK's (1 s base, 60 s cap, unlimited)."""

    model_config = ConfigDict(frozen=True)

    base_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=60.0, ge=0)
    max_attempts: int | None = Field(default=None, ge=0)
    # A connection silent this long (pings included) is dead (docs/protocol.md §14.7).
    idle_timeout: float | None = Field(default=45.0, gt=0)
    # Failing this long after the last progress triggers a job check (docs/protocol.md §14.6).
    reconcile_after: float = Field(default=60.0, ge=0)
    # A job whose check answers 404 this long is lost (`JobLostError`); None: wait forever.
    lost_after: float | None = Field(default=600.0, ge=0)

    def next_delay(self, attempt: int, random: Callable[[], float]) -> float:
        """docs/protocol.md §3.5 `next_delay`: doubling, ±25 % jitter, within `[0, max_delay]`."""
        # The exponent is bounded so a days-long outage cannot overflow the float.
        exp = min(self.base_delay * 2.0 ** min(attempt, 1000), self.max_delay)
        jitter = exp * (random() * 0.5 - 0.25)
        return max(0.0, min(self.max_delay, exp + jitter))


class EventFollower:
    """Async iterator over a job's data events that survives disconnects.

    It stops after yielding a terminal event (`training.completed` / `training.failed`),
    or when `GET /v1/jobs/:id` confirms a terminal status (then `final_job` is set).
    It raises at once on a permanent status, `StreamGaveUpError` once `max_attempts`
    is exhausted, and `JobLostError` once the job's check has answered 404 for
    `lost_after`. `last_event_id` is the resume cursor to persist (e.g. in a heartbeat);
    `trouble` says, while it lasts, why no event comes.
    """

    def __init__(
        self,
        client: ArkorClient,
        job_id: str,
        *,
        policy: ReconnectPolicy | None = None,
        last_event_id: str | None = None,
        random: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self.last_event_id = last_event_id
        self.final_job: TrainingJob | None = None
        self.trouble: str | None = None
        self.opens = 0
        self.delays: list[float] = []
        self._client = client
        self._policy = policy or ReconnectPolicy()
        self._random = random
        self._sleep = sleep
        self._clock = clock
        self._log = _log.bind(job_id=job_id)
        self._events: AsyncGenerator[StreamEvent, None] | None = None
        self._missing_since: float | None = None  # when the job's check first answered 404

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        self._events = self._follow()
        return self._events

    async def aclose(self) -> None:
        """Close the open connection, if any (for consumers that stop iterating early)."""
        if self._events is not None:
            await self._events.aclose()

    async def _follow(self) -> AsyncGenerator[StreamEvent, None]:
        policy = self._policy
        attempt = 0  # consecutive failures, as in docs/protocol.md §3.5
        last_progress = self._clock()
        # The job, once a clean close found it terminal; set, the follow ends at the
        # first clean close that brings no new event.
        draining: TrainingJob | None = None
        stream_missing = False  # the last open answered 404: is the job itself gone?
        while True:
            failure: ArkorError
            try:
                # docs/protocol.md §14.6: after a long silence, ask the job instead of retrying.
                silent = attempt > 0 and self._clock() - last_progress > policy.reconcile_after
                if (silent or stream_missing) and self._finished(await self._check_job()):
                    return
                progressed = ended = False
                self.opens += 1
                async with self._client.open_event_stream(
                    self.job_id, last_event_id=self.last_event_id, read_timeout=policy.idle_timeout
                ) as frames:
                    async for sse in frames:
                        if sse.id:  # like the SDK: every frame with an id, before classifying
                            self.last_event_id = sse.id
                        if sse.event == "ping":
                            continue
                        if sse.event == "end":
                            ended = True
                            break
                        event = parse_event(sse)
                        if event is None:
                            continue
                        progressed, attempt, last_progress = True, 0, self._clock()
                        self.trouble = None
                        yield event
                        if event.is_terminal:
                            return
                # docs/protocol.md §14.4: neither `end` nor a clean close proves the job is over,
                # and a job that is over may still have unread events: once the job reads
                # terminal, reconnect until a connection brings nothing new (the history
                # is final).
                if draining is not None and not progressed and self._finished(draining):
                    return
                # A close with neither progress nor `end` (an empty or ping-only 200) says
                # nothing about the history, so the job is not read: docs/protocol.md §3.5 counts
                # a failure.
                if draining is None and (ended or progressed):
                    job = await self._client.get_job(self.job_id)
                    draining = job if job.status.is_terminal else None
                if progressed or draining is not None:
                    # docs/protocol.md §3.5: after progress, wait the base delay (not a failure).
                    await self._pause(policy.base_delay)
                    continue
                what = "sent end while the job runs" if ended else "closed without any data frame"
                failure = TransportError(f"Arkor SSE stream of job {self.job_id} {what}")
            except (PermanentApiError, JobLostError):
                raise
            except ArkorError as exc:
                failure = exc
            stream_missing = isinstance(failure, ApiStatusError) and failure.status == 404
            attempt = await self._back_off(attempt, failure)

    async def _check_job(self) -> TrainingJob | None:
        """The job, or None while it answers 404; `JobLostError` once that lasts `lost_after`."""
        try:
            job = await self._client.get_job(self.job_id)
        except ApiStatusError as exc:
            if exc.status != 404:
                raise
            now = self._clock()
            self._missing_since = self._missing_since or now
            missing_for = now - self._missing_since
            lost_after = self._policy.lost_after
            if lost_after is not None and missing_for >= lost_after:
                raise JobLostError(self.job_id, missing_for) from exc
            self.trouble = (
                f"the backend has answered 404 for job {self.job_id} for {missing_for:.0f} s"
            )
            return None
        self._missing_since = None
        return job

    def _finished(self, job: TrainingJob | None) -> bool:
        """Whether `job` is terminal; if so it becomes `final_job` and the follow ends."""
        if job is None or not job.status.is_terminal:
            return False
        self._log.info("arkor_cloud.stream.job_terminal", status=job.status.value)
        self.final_job = job
        return True

    async def _back_off(self, attempt: int, failure: ArkorError) -> int:
        max_attempts = self._policy.max_attempts
        if max_attempts is not None and attempt >= max_attempts:
            raise StreamGaveUpError(attempt + 1) from failure
        delay = self._policy.next_delay(attempt, self._random)
        if self._missing_since is None:  # a missing job says so itself (`_check_job`)
            self.trouble = f"reconnecting (failure {attempt + 1}): {failure}"
        self._log.warning(
            "arkor_cloud.stream.reconnect", attempt=attempt + 1, delay=delay, error=str(failure)
        )
        await self._pause(delay)
        return attempt + 1

    async def _pause(self, delay: float) -> None:
        self.delays.append(delay)
        await self._sleep(delay)
