"""Serve the Arkor emulator, a local stand-in for the Arkor cloud API, in the foreground.

``python -m arkor_temporal.emulator`` (or ``arkor-temporal emulator``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from arkor_temporal.emulator.app import create_app
from arkor_temporal.emulator.config import EmulatorConfig, GlobalSettings
from arkor_temporal.emulator.faults import Faults
from arkor_temporal.emulator.server import serve_resuming
from arkor_temporal.emulator.store import Store

PROG = "python -m arkor_temporal.emulator"
DEFAULT_PORT = 8787  # EmulatorConfig's 0 (an ephemeral port) suits embedding, not a CLI
FAULTS = {info.alias: info for info in Faults.model_fields.values() if info.alias}


class _Parser(argparse.ArgumentParser):
    """Errors in one line: ``PROG: error: what, and what is allowed`` (the usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _fault(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw  # bare words such as postCancel=failed
    return name, value


def _number(*, positive: bool) -> Any:
    """An argparse type: a float above zero, or at least zero."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < 0 or (positive and value == 0):
            rule = "above 0" if positive else "0 or more"
            raise argparse.ArgumentTypeError(f"expected a number {rule}, got {text}")
        return value

    return parse


def allowed_values(info: FieldInfo) -> str:
    """What a fault takes, from its declaration: ``a number from 0 to 1``, ``true or false``..."""
    kinds = [arg for arg in typing.get_args(info.annotation) if arg is not type(None)]
    kind = kinds[0] if len(kinds) == 1 else info.annotation
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(str(choice) for choice in typing.get_args(kind))
    if kind is bool:
        return "true or false"
    # pydantic keeps ``Field(ge=..., le=...)`` as annotated-types ``Ge``/``Le`` markers
    low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
    what = "a whole number" if kind is int else "a number"
    if low is not None and high is not None:
        return f"{what} from {low} to {high}"
    if low is not None:
        return f"{what}, {low} or more"
    return what


def faults_from(pairs: Sequence[tuple[str, object]]) -> Faults:
    """The global fault set; a bad one raises ``ValueError`` naming it and what it takes."""
    for name, value in pairs:
        shown = f"--fault {name}={json.dumps(value) if not isinstance(value, str) else value}"
        info = FAULTS.get(name)
        if info is None:
            close = difflib.get_close_matches(name, FAULTS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ValueError(f"{shown}: unknown fault {name!r}; {hint}faults: {', '.join(FAULTS)}")
        try:
            Faults.model_validate({name: value})
        except ValidationError:
            raise ValueError(
                f"{shown}: {name} takes {allowed_values(info)}, not {value!r}"
            ) from None
    return Faults.model_validate(dict(pairs))


def _fault_list() -> str:
    lines = [f"  {name:<26} {allowed_values(info)}" for name, info in FAULTS.items()]
    return "faults for --fault NAME=VALUE (camelCase names, JSON values):\n" + "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    defaults = EmulatorConfig()
    parser = _Parser(
        prog=PROG,
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=_fault_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default=defaults.host, help="address to listen on (default: %(default)s)")
    add("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    add(
        "--steps-per-second",
        type=_number(positive=True),
        default=defaults.steps_per_second,
        metavar="N",
        help="simulated training speed, steps per second (default: %(default)s)",
    )
    add(
        "--ping-interval",
        type=_number(positive=True),
        default=defaults.ping_interval,
        metavar="SECONDS",
        help="seconds between ping events on an idle stream (default: %(default)s)",
    )
    add(
        "--queue-seconds",
        type=_number(positive=False),
        default=defaults.queue_seconds,
        metavar="SECONDS",
        help="seconds a new job stays queued before it trains (default: %(default)s)",
    )
    add("--token", default=defaults.token, help="the seeded bearer token (default: %(default)s)")
    add("--org", default=defaults.org_slug, help="the seeded org's slug (default: %(default)s)")
    add(
        "--project",
        default=defaults.project_slug,
        help="the seeded project's slug (default: %(default)s)",
    )
    add(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seed of job ids, metric curves and fault draws (default: %(default)s)",
    )
    add(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a global fault, repeatable, e.g. serverErrorRate=0.3 (default: none; "
        "the list is below)",
    )
    add(
        "--deprecation",
        action="store_true",
        help="add Deprecation/Warning/Sunset headers to every answer (default: off)",
    )
    add(
        "--logging",
        choices=["huggingface", "combined"],
        default=defaults.settings.logging,
        help="training.log style: separate train and eval logs and a summary (huggingface), "
        "or one log per step (combined) (default: %(default)s)",
    )
    add(
        "--honour-idempotency-key",
        action="store_true",
        help="same Idempotency-Key, same job; the real cloud ignores the header (default: off)",
    )
    add(
        "--reject-bare-step-numbers",
        action="store_true",
        help="answer bare warmupSteps/loggingSteps/saveSteps/evalSteps with 400, as the new "
        "cloud does (default: off, both generations accepted)",
    )
    add(
        "--state-file",
        type=Path,
        metavar="PATH",
        help="keep projects and jobs in this JSON file, so they outlive a restart "
        "(default: none, in memory only)",
    )
    args = parser.parse_args(argv)
    try:
        faults = faults_from(args.fault)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    try:
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
        parser.error(str(exc).splitlines()[0])


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
