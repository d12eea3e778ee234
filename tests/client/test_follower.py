"""docs/protocol.md §3.5 (reconnecting) and §14.4 to §14.9, on scripted streams."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from structlog.testing import capture_logs

from arkor_cloud import (
    EventFollower,
    JobLostError,
    JobStatus,
    PermanentApiError,
    ReconnectPolicy,
    StreamEvent,
    StreamGaveUpError,
    TrainingCompleted,
    TrainingLog,
    TransientApiError,
    TransportError,
    UnknownEvent,
    UnsupportedClientError,
)
from tests.support.scripted import (
    DONE,
    END,
    LOG1,
    LOG2,
    MISSING,
    PING,
    TOKEN,
    Backend,
    Status,
    Stream,
    collect,
    follower,
    frame,
    throw,
)
from tests.support.waiting import eventually


async def test_progress_resets_the_budget_so_n2_makes_five_opens() -> None:
    backend = Backend([throw(), Stream([LOG1]), throw(), throw(), throw()])
    f = follower(backend, max_attempts=2)
    with pytest.raises(StreamGaveUpError) as info:
        await collect(f)
    assert f.opens == len(backend.opens) == 5
    assert str(info.value) == "Arkor SSE stream failed 3 consecutive times; giving up."
    assert isinstance(info.value.__cause__, TransportError)
    # d(0); base after the clean close; d(0); d(1); then give up at attempt 2.
    assert f.delays == pytest.approx([0.01, 0.01, 0.01, 0.02])


async def test_fixed_random_gives_exact_delays() -> None:
    backend = Backend([throw(), throw(), throw()])
    f = follower(backend, max_attempts=2)
    with pytest.raises(StreamGaveUpError):
        await collect(f)
    assert f.opens == 3
    assert f.delays == pytest.approx([0.01, 0.02])


async def test_jitter_is_clamped_at_the_cap() -> None:
    backend = Backend([throw(), throw()])
    f = follower(backend, base_delay=0.1, max_delay=0.1, max_attempts=1, random=0.9)
    with pytest.raises(StreamGaveUpError):
        await collect(f)
    assert f.delays == [0.1]


@pytest.mark.parametrize(
    ("attempt", "random", "expected"),
    [
        (0, 0.0, 0.75),
        (0, 0.999999, 1.25),
        (2, 0.5, 4.0),
        (6, 0.5, 60.0),
        (6, 0.0, 45.0),
        (5000, 0.99, 60.0),
    ],
)
def test_next_delay_schedule(attempt: int, random: float, expected: float) -> None:
    assert ReconnectPolicy().next_delay(attempt, lambda: random) == pytest.approx(
        expected, rel=1e-5
    )


async def test_clean_close_after_progress_waits_base_without_counting() -> None:
    backend = Backend([Stream([LOG1]), throw(), throw()])
    f = follower(backend, base_delay=0.01, max_attempts=1, random=0.9)
    with pytest.raises(StreamGaveUpError, match="failed 2 consecutive"):
        await collect(f)
    # The clean close sleeps exactly base (no jitter even with random 0.9) and does
    # not count: the next failure still uses d(0) and only the one after gives up.
    assert f.delays == pytest.approx([0.01, 0.01 * 1.2])
    assert backend.opens[0].headers.get("last-event-id") is None
    assert backend.opens[1].headers["last-event-id"] == "1"


async def test_mid_body_error_after_one_frame_resumes_from_the_cursor() -> None:
    backend = Backend([Stream([LOG1], error=httpx.ReadError("reset")), Stream([LOG2, DONE])])
    f = follower(backend, max_attempts=1)
    events = await collect(f)
    assert [e.event_id for e in events] == ["1", "2", "3"]
    assert f.delays == pytest.approx([0.01])
    assert backend.opens[1].headers["last-event-id"] == "1"


@pytest.mark.parametrize("status", [401, 403, 410, 426])
async def test_permanent_statuses_raise_at_once(status: int) -> None:
    backend = Backend([Status(status, '{"error":"no"}')])
    f = follower(backend)
    with pytest.raises(PermanentApiError) as info:
        await collect(f)
    assert info.value.status == status
    assert f.opens == 1 and f.delays == []
    assert isinstance(info.value, UnsupportedClientError) == (status == 426)


@pytest.mark.parametrize("status", [400, 404, 408, 409, 429, 500, 503])
async def test_other_statuses_are_retried(status: int) -> None:
    backend = Backend([Status(status), Stream([DONE])])
    f = follower(backend)
    assert [e.type for e in await collect(f)] == ["training.completed"]
    assert f.opens == 2 and f.delays == pytest.approx([0.01])


@pytest.mark.parametrize(
    "frames",
    [[], [PING, PING], ["data: {bad\n\n", "data: null\n\n", ": comment\n\n"]],
    ids=["empty", "pings-only", "unparseable-only"],
)
async def test_streams_without_data_count_as_failures(frames: list[str]) -> None:
    backend = Backend([Stream(frames), Stream(frames)])
    f = follower(backend, max_attempts=1)
    with pytest.raises(StreamGaveUpError, match="failed 2 consecutive") as info:
        await collect(f)
    assert "closed without any data frame" in str(info.value.__cause__)
    assert f.delays == pytest.approx([0.01])


async def test_unknown_type_counts_as_progress_and_pings_do_not() -> None:
    paused = frame("training.paused", id="p")
    backend = Backend([throw(), Stream([PING, paused]), throw(), Stream([DONE])])
    f = follower(backend)
    events = await collect(f)
    assert isinstance(events[0], UnknownEvent) and events[0].type == "training.paused"
    # throw: d(0)=.01; clean close after progress: base; throw: d(0) again (reset).
    assert f.delays == pytest.approx([0.01, 0.01, 0.01])


async def test_terminal_event_stops_reading() -> None:
    backend = Backend([Stream([LOG1, DONE, LOG2, END])])
    f = follower(backend)
    events = await collect(f)
    assert [type(e) for e in events] == [TrainingLog, TrainingCompleted]
    assert f.final_job is None and backend.job_checks == 0 and f.last_event_id == "3"


async def test_end_with_running_job_reconnects_with_last_event_id() -> None:
    backend = Backend([Stream([LOG1, END]), Stream([DONE])], job_status="running")
    f = follower(backend)
    events = await collect(f)
    assert [e.event_id for e in events] == ["1", "3"]
    assert backend.job_checks == 1
    assert backend.opens[1].headers["last-event-id"] == "1"
    assert f.delays == [0.01]  # progress was made: the base delay, uncounted


async def test_end_without_progress_and_running_job_is_a_failure() -> None:
    backend = Backend([Stream([END]), Stream([END])], job_status="running")
    f = follower(backend, max_attempts=1)
    with pytest.raises(StreamGaveUpError):
        await collect(f)
    assert backend.job_checks == 2


async def test_end_with_terminal_job_stops_with_final_job() -> None:
    backend = Backend(
        [Stream([LOG1, "id: 9\nevent: end\ndata: \n\n"]), Stream([END])], job_status="cancelled"
    )
    f = follower(backend)
    events = await collect(f)
    assert len(events) == 1
    assert f.final_job is not None and f.final_job.status is JobStatus.CANCELLED
    assert f.last_event_id == "9"  # the cursor follows control frames too
    # The draining connection resumes after the end frame and brings nothing new.
    assert backend.opens[1].headers["last-event-id"] == "9"
    assert backend.job_checks == 1 and f.delays == [0.01]


async def test_end_without_progress_and_terminal_job_drains_once() -> None:
    backend = Backend([Stream([END]), Stream([END])], job_status="cancelled")
    f = follower(backend)
    assert await collect(f) == []
    assert f.final_job is not None and f.opens == 2 and f.delays == [0.01]


async def test_draining_continues_while_connections_bring_events() -> None:
    end = "event: end\ndata: \n\n"
    backend = Backend(
        [Stream([LOG1, end]), Stream([LOG2, end]), Stream([end])], job_status="completed"
    )
    f = follower(backend)
    assert [e.event_id for e in await collect(f)] == ["1", "2"]
    assert f.final_job is not None and f.opens == 3


async def test_clean_close_checks_the_job_first() -> None:
    cancelled = frame("training.cancelled", id="5")
    backend = Backend([Stream([LOG1, cancelled]), Stream([])], job_status="cancelled")
    f = follower(backend)
    events = await collect(f)
    assert [e.type for e in events] == ["training.log", "training.cancelled"]
    assert f.final_job is not None and f.final_job.status is JobStatus.CANCELLED
    # One more connection drains whatever is left before the follower trusts the job.
    assert f.opens == 2 and backend.job_checks == 1
    assert backend.opens[1].headers["last-event-id"] == "5"


async def test_draining_connection_delivers_the_tail() -> None:
    backend = Backend([Stream([LOG1]), Stream([LOG2, DONE])], job_status="completed")
    f = follower(backend)
    assert [e.event_id for e in await collect(f)] == ["1", "2", "3"]
    assert f.final_job is None


async def test_empty_or_ping_only_close_does_not_trust_a_terminal_job() -> None:
    # The history is still unread: a terminal job must not end the follow here.
    backend = Backend([Stream([PING]), Stream([]), Stream([LOG1, DONE])], job_status="completed")
    f = follower(backend)
    assert [e.event_id for e in await collect(f)] == ["1", "3"]
    assert backend.job_checks == 0 and f.delays == pytest.approx([0.01, 0.02])


async def test_failing_job_check_is_a_failure_and_permanent_check_raises() -> None:
    def script(status: int) -> Backend:
        backend = Backend([Stream([LOG1, END]), Stream([DONE])])
        original = backend.handler

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/jobs/j1":
                backend.requests.append(request)
                return httpx.Response(status)
            return original(request)

        backend.handler = handler  # type: ignore[method-assign]
        return backend

    transient = follower(script(503))
    assert [e.event_id for e in await collect(transient)] == ["1", "3"]
    assert transient.delays == pytest.approx([0.01])  # a counted failure: d(0)
    with pytest.raises(PermanentApiError):
        await collect(follower(script(401)))


async def test_long_silence_is_reconciled_through_the_job() -> None:
    backend = Backend([throw()] * 10, job_status=["running", "failed"])
    f = clocked_follower(backend, [0.0])
    assert await collect(f) == []
    assert f.final_job is not None and f.final_job.status is JobStatus.FAILED
    # Delays 1, 2, 4: after 7 s of failures the first check says running, the next failed.
    assert f.delays == [1.0, 2.0, 4.0, 4.0]
    assert f.opens == 4 and backend.job_checks == 2


def clocked_follower(backend: Backend, now: list[float], **policy: float) -> EventFollower:
    """A follower on a virtual clock that its own sleeps advance (no jitter)."""

    async def sleep(delay: float) -> None:
        now[0] += delay

    return EventFollower(
        backend.client(),
        "j1",
        policy=ReconnectPolicy(base_delay=1.0, max_delay=4.0, reconcile_after=5.0, **policy),
        random=lambda: 0.5,
        sleep=sleep,
        clock=lambda: now[0],
    )


async def test_a_job_the_backend_forgot_is_lost_after_the_configured_time() -> None:
    now = [0.0]
    backend = Backend([Status(404)] * 30, job_status=["running", MISSING])
    f = clocked_follower(backend, now, lost_after=20)
    with pytest.raises(JobLostError, match=r"404 for job j1 for 2[0-9] s"):
        async for _ in f:
            pass
    # Each 404 open is followed by a check of the job: the first (at 1 s) still knew it;
    # from the second (at 3 s) on it answers 404, and 20 s of that make the job lost.
    assert backend.job_checks >= 2 and 20 <= now[0] - 3 < 25
    assert f.trouble is not None and "404" in f.trouble


async def test_a_job_that_answers_again_is_not_lost() -> None:
    backend = Backend([Status(404)] * 12, job_status=[MISSING] * 4 + ["failed"])
    f = clocked_follower(backend, [0.0], lost_after=60)
    assert await collect(f) == []
    assert f.final_job is not None and f.final_job.status is JobStatus.FAILED


async def test_odd_frames_are_skipped() -> None:
    odd = [
        "data: null\n\n",
        "data: 7\n\n",
        "data: {bad\n\n",
        'data: {"jobId":"j1"}\n\n',
        frame("training.log", event="training.started", step=3),
        frame("training.log", id="x", step="not-a-step"),
        ": just a comment\n\n",
        "retry: 10\n\n",
    ]
    backend = Backend([Stream([*odd, LOG1, DONE])])
    events = await collect(follower(backend))
    assert [e.event_id for e in events] == ["1", "3"]


async def test_non_finite_and_null_metrics_are_accepted() -> None:
    body = (
        'id: 1\nevent: training.log\ndata: {"type":"training.log","step":1,"loss":NaN,'
        '"evalLoss":Infinity,"learningRate":null,"lossRaw":"nan"}\n\n'
    )
    backend = Backend([Stream([body, DONE])])
    log = (await collect(follower(backend)))[0]
    assert isinstance(log, TrainingLog)
    assert log.loss != log.loss and log.eval_loss == float("inf") and log.learning_rate is None
    assert log.model_extra == {"lossRaw": "nan"}


async def test_lone_cr_and_crlf_line_endings_split_anywhere() -> None:
    text = (LOG1.replace("\n", "\r") + LOG2.replace("\n", "\r\n") + DONE).encode()
    chunks = [text[i : i + 3] for i in range(0, len(text), 3)]
    backend = Backend([Stream(chunks=chunks)])
    assert [e.event_id for e in await collect(follower(backend))] == ["1", "2", "3"]


async def test_read_timeout_is_a_transient_failure() -> None:
    backend = Backend([Stream([LOG1], error=httpx.ReadTimeout("idle")), Stream([DONE])])
    f = follower(backend, idle_timeout=0.5)
    assert [e.event_id for e in await collect(f)] == ["1", "3"]
    assert f.delays == pytest.approx([0.01])


async def test_transient_open_status_is_the_gave_up_cause() -> None:
    backend = Backend([Status(404, '{"error":"not found"}')])
    with pytest.raises(StreamGaveUpError) as info:
        await collect(follower(backend, max_attempts=0))
    assert isinstance(info.value.__cause__, TransientApiError)
    assert info.value.__cause__.message == "not found"


async def test_cancel_during_read_closes_the_connection() -> None:
    backend = Backend([Stream([LOG1], hang=True)])
    f = EventFollower(backend.client(), "j1")
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async for event in f:
            seen.append(event)

    async def events_seen() -> list[StreamEvent]:
        return seen

    task = asyncio.create_task(consume())
    await eventually(events_seen, within=5, interval=0.001, what="the first event")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.streams[0].closed


async def test_cancel_during_backoff_propagates() -> None:
    backend = Backend([throw(), throw()])
    f = EventFollower(backend.client(), "j1", policy=ReconnectPolicy(base_delay=30.0))

    async def backoffs() -> list[float]:
        return f.delays

    task = asyncio.create_task(collect(f))
    await eventually(backoffs, within=5, interval=0.001, what="the first backoff")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert f.opens == 1


async def test_resume_cursor_is_sent_and_updated() -> None:
    backend = Backend([Stream([LOG2, DONE])])
    f = EventFollower(backend.client(), "j1", last_event_id="1")
    assert [e.event_id for e in await collect(f)] == ["2", "3"]
    assert backend.opens[0].headers["last-event-id"] == "1"
    assert backend.opens[0].headers["accept"] == "text/event-stream"
    assert f.last_event_id == "3"


async def test_token_never_logged_or_raised() -> None:
    backend = Backend([throw(), Stream([LOG1], error=httpx.ReadError("x")), Status(401, "bad")])
    with capture_logs() as logs, pytest.raises(PermanentApiError) as info:
        await collect(follower(backend))
    assert logs and TOKEN not in repr(logs) + str(info.value) + repr(info.value.__dict__)
