"""What stands between a spec and a training run, each problem with its fix (``doctor``).

Temporal's side, as this process connects: the server answers at the address
with these TLS and API-key settings, the namespace exists, the search attributes
are registered with their types, and a worker polls each of the three task
queues of the base queue. Then what this process can see of the worker's
settings: the Arkor credentials and scope, the Web UI links of notifications,
and, given a spec, the variables its notifications and dataset name. The worker,
not the CLI, reads those, maybe on another machine, so a problem there is a
warning: it may well be fine where the worker runs.

:func:`no_worker_warning` is the poller check alone, for ``run start``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator
from temporalio.api.enums.v1 import NamespaceState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
    GetSystemInfoRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from arkor_temporal.client.connection import TemporalSettings, TemporalUnavailableError
from arkor_temporal.client.links import CLOUD_UI, ENV_UI_URL, web_ui_base
from arkor_temporal.client.setup import search_attribute_gaps
from arkor_temporal.core import search_attributes as sa
from arkor_temporal.core.names import TaskQueues
from arkor_temporal.core.spec import RunSpec

TEMPORAL = "temporal"  # the check whose failure means Temporal cannot be reached
# An idle worker's long poll is recorded when it starts and lasts up to a minute (the
# server's long-poll expiry), so a live worker's last access can be that old.
POLLER_FRESHNESS = timedelta(seconds=90)
ARKOR_CHECK_TIMEOUT = 30.0  # seconds for the child interpreter that resolves the Arkor settings


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # may stop runs, or may be fine where the worker runs
    FAIL = "fail"  # runs cannot start or progress


class Check(BaseModel):
    """One check: what it found and, unless all is well, how to fix it."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: Status
    detail: str
    fix: str | None = None

    @model_validator(mode="after")
    def _fix_unless_ok(self) -> Self:
        if self.status is not Status.OK and not self.fix:
            raise ValueError(f"check {self.name!r} is {self.status.value} and has no fix")
        return self

    @classmethod
    def ok(cls, name: str, detail: str) -> Check:
        return cls(name=name, status=Status.OK, detail=detail)

    @classmethod
    def warn(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name=name, status=Status.WARN, detail=detail, fix=fix)

    @classmethod
    def fail(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name=name, status=Status.FAIL, detail=detail, fix=fix)


async def diagnose(
    settings: TemporalSettings, *, spec: RunSpec | None = None, env: Mapping[str, str] | None = None
) -> list[Check]:
    """Every check, Temporal's first; ``env`` (default: this process's) is what the local
    checks read. Never raises for what it checks: each problem is a check with its fix."""
    env = os.environ if env is None else env
    temporal, arkor = await asyncio.gather(temporal_checks(settings), arkor_settings_check(env))
    return [
        *temporal,
        arkor,
        ui_link_check(settings.address, env),
        *spec_variable_checks(spec, env),
    ]


# --- Temporal -------------------------------------------------------------------------------


async def temporal_checks(settings: TemporalSettings) -> list[Check]:
    """Reachable, then the namespace, then what lives in it (each needs the one before)."""
    try:
        client = await settings.connect()
    except TemporalUnavailableError as exc:
        return [_unreachable(settings, exc)]
    except ValueError as exc:  # the SDK refuses the address before dialling
        return [
            Check.fail(
                "temporal address",
                f"{settings.address!r} is not a host:port address ({exc})",
                "pass host:port with --address or TEMPORAL_ADDRESS, such as localhost:7233",
            )
        ]
    reached = await _reached(client, settings)
    namespace = await namespace_check(client, settings.address)
    if namespace.status is Status.FAIL:
        return [reached, namespace]
    return [
        reached,
        namespace,
        await search_attributes_check(client),
        *await poller_checks(client, settings.task_queue),
    ]


def _transport(settings: TemporalSettings) -> str:
    options = settings.connect_options
    if options.get("api_key"):
        return "an API key over TLS"
    tls = options.get("tls")
    if isinstance(tls, TLSConfig) and tls.client_cert:
        return "mTLS"
    return "TLS" if tls else "no TLS"


def _unreachable(settings: TemporalSettings, exc: TemporalUnavailableError) -> Check:
    transport = _transport(settings)
    fix = (
        f"check the address (--address or TEMPORAL_ADDRESS, now {settings.address}); "
        "for a local server, start one with `arkor-temporal dev up`"
    )
    if transport != "no TLS":
        fix += (
            f"; these settings use {transport}, so also check --api-key (TEMPORAL_API_KEY) or "
            "--tls-cert/--tls-key (TEMPORAL_TLS_CLIENT_CERT_PATH/_KEY_PATH), and that the "
            "server expects TLS"
        )
    cause = exc.__cause__ or exc  # the SDK's own words, without our advice around them
    return Check.fail(
        TEMPORAL, f"cannot reach Temporal at {settings.address} ({transport}): {cause}", fix
    )


async def _reached(client: Client, settings: TemporalSettings) -> Check:
    try:
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        version = f"Temporal {info.server_version}" if info.server_version else "Temporal"
    except RPCError:
        version = "Temporal"  # it answered the connection; its version is a nicety
    return Check.ok(TEMPORAL, f"{version} answers at {settings.address} ({_transport(settings)})")


async def namespace_check(client: Client, address: str) -> Check:
    namespace = client.namespace
    name = "namespace"
    try:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return Check.fail(
                name,
                f"Temporal at {address} has no namespace {namespace!r}",
                "pass the one your runs live in with --namespace or TEMPORAL_NAMESPACE "
                "(`temporal operator namespace list` lists them), or create it: "
                f"`temporal operator namespace create --namespace {shlex.quote(namespace)}`",
            )
        return Check.fail(
            name,
            f"Temporal refused to describe namespace {namespace!r}: {exc.message}",
            "check that these credentials may use it (--api-key / TEMPORAL_API_KEY, or the "
            "client certificate), or pass another with --namespace",
        )
    state = described.namespace_info.state
    if state != NamespaceState.NAMESPACE_STATE_REGISTERED:
        shown = NamespaceState.Name(state).removeprefix("NAMESPACE_STATE_").lower()
        return Check.fail(
            name,
            f"namespace {namespace!r} is {shown}",
            "pass a registered namespace with --namespace or TEMPORAL_NAMESPACE",
        )
    return Check.ok(name, f"{namespace} exists")


async def search_attributes_check(client: Client) -> Check:
    name = "search attributes"
    try:
        gaps = await search_attribute_gaps(client)
    except RPCError as exc:
        return Check.warn(
            name,
            f"Temporal would not list them: {exc.message}",
            "list them yourself (`temporal operator search-attribute list`; Temporal Cloud: "
            f"the namespace's settings) and compare with {', '.join(k.name for k in sa.ALL)}",
        )
    if gaps.none:
        return Check.ok(name, f"all {len(sa.ALL)} registered with their types")
    problems, fixes = [], []
    if gaps.missing:
        problems.append(f"not registered: {', '.join(gaps.missing)}")
        fixes.append(
            "run `arkor-temporal setup` with the same connection settings (Temporal Cloud: "
            "`tcld namespace search-attributes add`)"
        )
    if gaps.mistyped:
        problems.append("; ".join(gaps.mistyped))
        fixes.append(
            "remove the mistyped ones (`temporal operator search-attribute remove --name "
            "NAME`) and run `arkor-temporal setup`, or use another namespace"
        )
    return Check.fail(name, "; ".join(problems), "; ".join(fixes))


# --- workers --------------------------------------------------------------------------------


class TaskKind(StrEnum):
    WORKFLOW = "workflow"
    ACTIVITY = "activity"


_QUEUE_TYPES = {
    TaskKind.WORKFLOW: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    TaskKind.ACTIVITY: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


@dataclass(frozen=True)
class Polling:
    """Who polls one task queue for one kind of task."""

    queue: str
    kind: TaskKind
    workers: tuple[str, ...]  # identities of the workers that polled within POLLER_FRESHNESS


def expected_polling(base_queue: str) -> list[tuple[str, TaskKind]]:
    """What a worker started on ``base_queue`` polls: workflows on the control queue only,
    activities on all three (``arkor_temporal.worker.build_worker``)."""
    queues = TaskQueues.of(base_queue)
    return [
        (queues.control, TaskKind.WORKFLOW),
        (queues.control, TaskKind.ACTIVITY),
        (queues.streams, TaskKind.ACTIVITY),
        (queues.work, TaskKind.ACTIVITY),
    ]


async def queue_pollers(
    client: Client, base_queue: str, *, now: datetime | None = None
) -> list[Polling]:
    """Who polls each queue a worker of ``base_queue`` serves, in ``client``'s namespace.

    A poller counts when its last poll is at most :data:`POLLER_FRESHNESS` before ``now``
    (default: this machine's clock); Temporal lists a stopped worker for minutes. Raises
    :class:`RPCError` when Temporal does not answer.
    """
    now = now or datetime.now(UTC)
    return list(
        await asyncio.gather(
            *(_polling(client, queue, kind, now) for queue, kind in expected_polling(base_queue))
        )
    )


async def _polling(client: Client, queue: str, kind: TaskKind, now: datetime) -> Polling:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=_QUEUE_TYPES[kind],
        )
    )
    recent = tuple(
        poller.identity
        for poller in described.pollers
        if now - poller.last_access_time.ToDatetime(UTC) <= POLLER_FRESHNESS
    )
    return Polling(queue, kind, recent)


def worker_command(namespace: str, base_queue: str) -> str:
    """The command that starts a worker for these queues (its address from the environment)."""
    return shlex.join(
        ["arkor-temporal", "worker", "--task-queue", base_queue, "--namespace", namespace]
    )


def unpolled_warning(polling: Sequence[Polling], namespace: str, base_queue: str) -> str | None:
    """The warning ``run start`` prints when some queue has no worker, else None."""
    missing = [p for p in polling if not p.workers]
    if not missing:
        return None
    what = (
        f"task queue {base_queue}"
        if len(missing) == len(polling)
        else ", ".join(f"{p.queue} (for {p.kind.value} tasks)" for p in missing)
    )
    return (
        f"no worker polls {what} in namespace {namespace}: the run waits until one does; "
        f"start one: {worker_command(namespace, base_queue)}"
    )


async def no_worker_warning(client: Client, base_queue: str) -> str | None:
    """For ``run start``: the warning when no worker polls the run's queues, else None.

    None too when Temporal will not describe the queues: a check must not stop a run.
    """
    try:
        polling = await queue_pollers(client, base_queue)
    except RPCError:
        return None
    return unpolled_warning(polling, client.namespace, base_queue)


async def poller_checks(client: Client, base_queue: str) -> list[Check]:
    """One check per task queue: which workers poll it for what it must serve."""
    try:
        polling = await queue_pollers(client, base_queue)
    except RPCError as exc:
        return [
            Check.warn(
                f"pollers {base_queue}",
                f"Temporal would not describe the task queues: {exc.message}",
                f"look yourself: `temporal task-queue describe --task-queue {base_queue}`",
            )
        ]
    command = worker_command(client.namespace, base_queue)
    fix = f"start a worker (it polls all three queues): {command}"
    by_queue: dict[str, list[Polling]] = {}
    for entry in polling:
        by_queue.setdefault(entry.queue, []).append(entry)
    return [_queue_check(queue, entries, fix) for queue, entries in by_queue.items()]


def _kinds(entries: Sequence[Polling]) -> str:
    return " and ".join(entry.kind.value for entry in entries) + " tasks"


def _workers(entries: Sequence[Polling]) -> str:
    workers = sorted({worker for entry in entries for worker in entry.workers})
    shown = ", ".join(workers[:3]) + (f" and {len(workers) - 3} more" if len(workers) > 3 else "")
    return f"{len(workers)} worker{'s' if len(workers) > 1 else ''} ({shown})"


def _queue_check(queue: str, entries: Sequence[Polling], fix: str) -> Check:
    name = f"pollers {queue}"
    polled = [entry for entry in entries if entry.workers]
    unpolled = [entry for entry in entries if not entry.workers]
    if not unpolled:
        return Check.ok(name, f"{_kinds(entries)} polled by {_workers(entries)}")
    detail = f"no worker polls it for {_kinds(unpolled)}"
    if polled:
        detail += f" ({_kinds(polled)}: {_workers(polled)})"
    return Check.warn(name, detail, fix)


# --- what the worker reads, as seen here ----------------------------------------------------

_HERE = "as this shell sees them; the worker reads its own"
_WORKER_SIDE = "this check sees only this shell's environment, and the worker may run elsewhere"

# The CLI's layer does not import the Arkor client (tests/architecture/test_layers.py), so
# the worker's own resolution runs in a child interpreter, as `arkor-temporal worker` runs
# the worker: `python -m arkor_cloud.check` prints where the token comes from, never the token.


async def arkor_settings_check(env: Mapping[str, str]) -> Check:
    """The Arkor token, project scope and API URL, resolved exactly as the worker does."""
    name = "arkor settings"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # not the current directory's modules
        "-m",
        "arkor_cloud.check",
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), ARKOR_CHECK_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        stdout, stderr = b"", f"no answer within {ARKOR_CHECK_TIMEOUT:g} s".encode()
    if process.returncode != 0 or not stdout.strip():
        last_line = (stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        return Check.warn(
            name,
            f"could not resolve them here: {last_line}",
            "check the installation: `python -c 'import arkor_cloud'` must work",
        )
    seen: dict[str, str] = json.loads(stdout)
    if "error" in seen:
        return Check.warn(name, seen["error"], f"set them where the worker runs ({_WORKER_SIDE})")
    return Check.ok(
        name, f"token from {seen['token']}, project {seen['scope']}, API {seen['url']} ({_HERE})"
    )


def _is_http_url(value: str) -> bool:
    return value.strip().startswith(("http://", "https://"))


def ui_link_check(address: str, env: Mapping[str, str]) -> Check:
    """Where the notifications' and the CLI's Web UI links point (``ARKOR_TEMPORAL_UI_URL``)."""
    name = "web ui links"
    configured = (env.get(ENV_UI_URL) or "").strip()
    fix = (
        f"set {ENV_UI_URL} on the worker (and here) to your Web UI's base URL, such as "
        f"{CLOUD_UI} for Temporal Cloud"
    )
    if configured:
        if _is_http_url(configured):
            return Check.ok(name, f"{ENV_UI_URL}: links go to {configured} ({_HERE})")
        return Check.warn(name, f"{ENV_UI_URL}={configured!r} is not an http(s) URL", fix)
    known = web_ui_base(address, {})
    if known == CLOUD_UI:
        return Check.warn(
            name,
            f"{ENV_UI_URL} is unset: the CLI links to {CLOUD_UI}, but notifications the "
            "worker sends link to http://localhost:8233",
            fix,
        )
    if known is None:
        return Check.warn(
            name,
            f"{ENV_UI_URL} is unset and the Web UI of {address} is unknown: notifications "
            "link to http://localhost:8233 and the CLI prints no links",
            fix,
        )
    return Check.ok(name, f"{ENV_UI_URL} is unset: links go to the local dev server's UI")


def spec_variable_checks(spec: RunSpec | None, env: Mapping[str, str]) -> list[Check]:
    """The variables a spec names (webhook URLs, the dataset's token): set here, never shown."""
    if spec is None:
        return []
    uses: dict[str, list[str]] = {}
    for index, notification in enumerate(spec.notifications):
        what = f"the webhook URL of notifications[{index}] ({notification.kind})"
        uses.setdefault(notification.url_env, []).append(what)
    if spec.blob_token_env is not None:
        uses.setdefault(spec.blob_token_env, []).append("the dataset's token")
    urls = {notification.url_env for notification in spec.notifications}
    return [
        _variable_check(variable, "; ".join(what), env, must_be_url=variable in urls)
        for variable, what in uses.items()
    ]


def _variable_check(
    variable: str, what: str, env: Mapping[str, str], *, must_be_url: bool
) -> Check:
    name = f"${variable}"
    value = (env.get(variable) or "").strip()
    fix = f"export {variable} in the worker's environment ({_WORKER_SIDE})"
    if not value:
        return Check.warn(name, f"not set here; the worker reads {what} from it", fix)
    if must_be_url and not _is_http_url(value):
        return Check.warn(name, f"set here, but not to an http(s) URL; it holds {what}", fix)
    return Check.ok(name, f"set here: {what}")
