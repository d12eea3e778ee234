"""``python -m bench [name ...]``: run the benchmarks (all by default), print a table,
write ``bench/results/<name>.json``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import structlog

from arkor_temporal.client import run_script
from bench.common import BenchResult, Stack, render_table

BENCHMARKS = (
    "follower_throughput",
    "history_budget",
    "sigkill_resume",
    "cancel_latency",
    "scale",
)

Runner = Callable[[Stack], Awaitable[BenchResult]]


async def run_all(names: Sequence[str]) -> list[BenchResult]:
    stack = Stack()
    results: list[BenchResult] = []
    try:
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            runner = cast(Runner, module.run)
            print(f"running {name} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            result = await runner(stack)
            result.seconds = round(time.monotonic() - started, 1)
            path = result.write()
            print(f"  done in {result.seconds} s -> {path}", file=sys.stderr, flush=True)
            for note in result.notes:
                print(f"  note: {note}", file=sys.stderr, flush=True)
            results.append(result)
    finally:
        await stack.aclose()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="name")
    parser.add_argument(
        "--full",
        action="store_true",
        help="scale: also N=1,000 runs (takes the whole machine; env BENCH_SCALE_FULL=1)",
    )
    args = parser.parse_args(argv)
    if args.full:
        os.environ["BENCH_SCALE_FULL"] = "1"  # read by bench.scale
    names: list[str] = args.names or list(BENCHMARKS)
    logging.basicConfig(level=logging.WARNING)
    # The client logs every response at debug level; keep the output to the results.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    run_script(lambda: run_and_report(names))  # exits cleanly: see arkor_temporal.client.script


async def run_and_report(names: Sequence[str]) -> None:
    started = time.monotonic()
    results = await run_all(names)
    print()
    print(render_table(results))
    for result in results:
        print(f"\n[{result.name}] config: {result.config}")
        for key, value in result.extra.items():
            print(f"[{result.name}] {key}: {value}")
    print(f"\ntotal {time.monotonic() - started:.0f} s; JSON in bench/results/")


if __name__ == "__main__":
    main(sys.argv[1:])
