"""Events/second of ``arkor_cloud.EventFollower`` replaying a completed job's whole history.

Baseline: a bare ``httpx`` + ``httpx_sse.aconnect_sse`` loop on the same stream that only
``json.loads`` each data frame. Both read the full replay (no ``Last-Event-ID``) of one
completed job, on fresh connections, interleaved (alternating which goes first); the
ratio follower/bare is the cost of typed parsing, cursor tracking and the resume logic.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import httpx
from httpx_sse import aconnect_sse

from arkor_cloud import ArkorClient, EventFollower, JobStatus, ReconnectPolicy
from bench.common import BenchResult, Emulator, Row, Stack, emulator, median, poll_until, run_spec

NAME = "follower_throughput"
MAX_STEPS = 20_000
REPEATS = 7
STEPS_PER_SECOND = 10_000.0
TERMINAL = frozenset({"training.completed", "training.failed"})


async def read_with_follower(cloud: ArkorClient, job_id: str) -> int:
    count = 0
    follower = EventFollower(cloud, job_id, policy=ReconnectPolicy())
    async with contextlib.aclosing(follower):
        async for _event in follower:
            count += 1
    return count


async def read_bare(http: httpx.AsyncClient, emu: Emulator, job_id: str) -> int:
    settings = emu.settings
    count = 0
    async with aconnect_sse(
        http,
        "GET",
        f"/v1/jobs/{job_id}/events/stream",
        params={"orgSlug": settings.org_slug, "projectSlug": settings.project_slug},
        headers={
            "Authorization": f"Bearer {settings.token.get_secret_value()}",
            "X-Arkor-Client": f"arkor/{settings.client_version}",
        },
    ) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            if sse.event == "ping":
                continue
            if sse.event == "end":
                break
            json.loads(sse.data)
            count += 1
            if sse.event in TERMINAL:
                break
    return count


async def run(_stack: Stack) -> BenchResult:
    # Plain framing: the bare httpx_sse baseline cannot read the emulator's hostile default
    # (it dispatches a `retry:`-only block as an empty event), and this measures parsing.
    spec = run_spec(
        name="bench-replay",
        maxSteps=MAX_STEPS,
        loggingSteps=1,
        saveSteps=500,
        backend={"emulator": {"framing": "plain"}},
    )
    async with (
        emulator(steps_per_second=STEPS_PER_SECOND) as emu,
        ArkorClient(emu.settings) as cloud,
        httpx.AsyncClient(base_url=emu.base_url, timeout=30) as http,
    ):
        job = await cloud.create_job(spec.name, spec.job_config())

        async def completed() -> bool:
            return (await cloud.get_job(job.id)).status is JobStatus.COMPLETED

        await poll_until(completed, within=60, interval=0.1, what="the replay job to complete")
        emitted = len(await emu.events(job.id))

        readers: dict[str, Callable[[], Awaitable[int]]] = {
            "follower": lambda: read_with_follower(cloud, job.id),
            "bare": lambda: read_bare(http, emu, job.id),
        }
        for reader in readers.values():  # warm-up: imports, connection pools, caches
            await reader()
        rates: dict[str, list[float]] = {name: [] for name in readers}
        for i in range(REPEATS):
            order = list(readers) if i % 2 == 0 else list(reversed(readers))
            for name in order:
                started = time.perf_counter()
                count = await readers[name]()
                elapsed = time.perf_counter() - started
                if count != emitted:
                    raise RuntimeError(f"{name} read {count} events, the job emitted {emitted}")
                rates[name].append(count / elapsed)

    return BenchResult(
        name=NAME,
        config={
            "maxSteps": MAX_STEPS,
            "loggingSteps": 1,
            "saveSteps": 500,
            "eventsPerReplay": emitted,
            "repeats": REPEATS,
            "emulatorStepsPerSecond": STEPS_PER_SECOND,
        },
        rows=[
            Row(
                metric=f"EventFollower replay ({emitted} events, median of {REPEATS})",
                value=median(rates["follower"]),
                unit="events/s",
                baseline="bare httpx-sse + json.loads",
                baseline_value=median(rates["bare"]),
                ratio_label="follower/bare",
                samples=rates["follower"],
                baseline_samples=rates["bare"],
            )
        ],
        notes=[
            "Full replay of a completed job (no Last-Event-ID), fresh connection per read, "
            "emulator in its own process on loopback; the two readers alternate order."
        ],
    )
