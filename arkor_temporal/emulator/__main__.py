"""``python -m emulator``: serve the emulator in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from arkor_temporal.emulator.app import create_app
from arkor_temporal.emulator.config import EmulatorConfig, GlobalSettings
from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.server import serve_resuming
from arkor_temporal.emulator.store import Store


def _fault(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw  # bare words such as postCancel=failed
    return name, value


def parse_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--steps-per-second", type=float, default=defaults.steps_per_second)
    parser.add_argument("--ping-interval", type=float, default=defaults.ping_interval)
    parser.add_argument("--queue-seconds", type=float, default=defaults.queue_seconds)
    parser.add_argument("--token", default=defaults.token)
    parser.add_argument("--org", default=defaults.org_slug)
    parser.add_argument("--project", default=defaults.project_slug)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="global fault, camelCase name, JSON value (e.g. serverErrorRate=0.3)",
    )
    parser.add_argument("--deprecation", action="store_true", help="mark responses deprecated")
    parser.add_argument(
        "--logging",
        choices=["huggingface", "combined"],
        default=defaults.settings.logging,
        help="training.log style: separate train/eval logs and a summary, or one per step",
    )
    parser.add_argument(
        "--honour-idempotency-key",
        action="store_true",
        help="same Idempotency-Key, same job (the real cloud ignores the header)",
    )
    parser.add_argument(
        "--reject-bare-step-numbers",
        action="store_true",
        help="400 for bare warmupSteps/loggingSteps/saveSteps/evalSteps, as the new cloud does",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        metavar="PATH",
        help="keep projects and jobs in this JSON file, so they outlive a restart",
    )
    args = parser.parse_args(argv)
    try:
        faults = Faults.model_validate(dict(args.fault))
        settings = GlobalSettings(
            logging=args.logging,
            honour_idempotency_key=args.honour_idempotency_key,
            reject_bare_step_numbers=args.reject_bare_step_numbers,
        )
        return EmulatorConfig(
            host=args.host,
            port=args.port,
            steps_per_second=args.steps_per_second,
            ping_interval=args.ping_interval,
            queue_seconds=args.queue_seconds,
            token=args.token,
            org_slug=args.org,
            project_slug=args.project,
            seed=args.seed,
            deprecation=args.deprecation,
            faults=faults,
            settings=settings,
            state_file=args.state_file,
        )
    except (ValidationError, ValueError) as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    print(f"Arkor emulator on http://{config.host}:{config.port} (token {config.token!r})")
    store = Store(config)
    # Open SSE streams would otherwise hold Ctrl+C until their clients leave.
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(store),
            host=config.host,
            port=config.port,
            log_level="info",
            timeout_graceful_shutdown=1,
        )
    )
    # uvicorn re-raises the Ctrl+C it handled once it has shut down (uvicorn.run hides it too).
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_resuming(server, store))


if __name__ == "__main__":
    main()
