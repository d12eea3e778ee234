"""In-memory state: identities, orgs, projects, jobs and their event history.

With ``EmulatorConfig.state_file`` the projects and jobs also outlive a restart
(``Store.save``); anonymous identities do not.

Every mutation happens on the server's event loop (route handlers and
simulation tasks), so no locks are needed. In-process tests may read the store
from another thread for inspection only.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arkor_temporal.emulator.config import EmulatorConfig, GlobalSettings
from arkor_temporal.emulator.faults import ErrorInjector, Faults, FirstN, PostCancel
from arkor_temporal.emulator.hashing import job_seed, opaque_id, stable_id
from arkor_temporal.emulator.plan import TrainingPlan, plan_job

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
SAVE_DELAY = 0.25
"""Seconds from a state change to the state file write: what a crash can lose."""
# The Job fields the state file keeps as they are (the rest are derived or per-process).
PERSISTED_JOB_FIELDS = (
    "id",
    "seed",
    "org_id",
    "project_id",
    "name",
    "config",
    "idempotency_key",
    "created_at",
    "status",
    "error",
    "started_at",
    "completed_at",
    "current_step",
    "stream_finished",
    "end_frame",
    "created_count",
)


def utc_now_iso() -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, the SDK fixtures' format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Org:
    id: str
    slug: str
    name: str
    members: set[str] = field(default_factory=set)

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "name": self.name}


@dataclass
class Project:
    id: str
    slug: str
    name: str
    org_id: str

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "name": self.name, "orgId": self.org_id}


@dataclass(frozen=True)
class StoredEvent:
    id: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class CancelRecord:
    at: str
    status_before: str
    answer: int


@dataclass
class Job:
    id: str
    seed: int
    org_id: str
    project_id: str
    name: str
    config: dict[str, Any]
    plan: TrainingPlan
    injector: ErrorInjector
    idempotency_key: str | None
    created_at: str = field(default_factory=utc_now_iso)
    status: str = "queued"
    error: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    events: list[StoredEvent] = field(default_factory=list)
    event_positions: dict[str, int] = field(default_factory=dict)
    saved_steps: set[int] = field(default_factory=set)
    current_step: int = 0
    # Once True no event will ever be appended; streams then finish, sending
    # ``end`` only when ``end_frame`` (False for the postCancel "unknown" variant).
    stream_finished: bool = False
    end_frame: bool = True
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    stream_opens: int = 0
    dropped_connections: int = 0
    mid_frame_drops: int = 0
    created_count: int = 1
    cancels: list[CancelRecord] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "orgId": self.org_id,
            "projectId": self.project_id,
            "name": self.name,
            "status": self.status,
            "config": self.config,
            "error": self.error,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
        }

    def notify(self) -> None:
        """Wake every stream waiting on this job (swap first: waiters hold the old one)."""
        woken, self.wakeup = self.wakeup, asyncio.Event()
        woken.set()

    def persisted(self) -> dict[str, Any]:
        record = {name: getattr(self, name) for name in PERSISTED_JOB_FIELDS}
        # The plan is rebuilt from the config; these two came from server defaults.
        record.update(queue_seconds=self.plan.queue_seconds, logging=self.plan.logging)
        record.update(
            events=[asdict(event) for event in self.events],
            saved_steps=sorted(self.saved_steps),
            cancels=[asdict(cancel) for cancel in self.cancels],
        )
        return record

    @classmethod
    def restored(cls, record: dict[str, Any]) -> Job:
        plan = plan_job(
            record["config"],
            default_queue_seconds=record["queue_seconds"],
            default_logging=record["logging"],
        )
        events = [StoredEvent(**event) for event in record["events"]]
        return cls(
            **{name: record[name] for name in PERSISTED_JOB_FIELDS},
            plan=plan,
            injector=ErrorInjector(record["seed"]),
            events=events,
            event_positions={event.id: position for position, event in enumerate(events)},
            saved_steps=set(record["saved_steps"]),
            cancels=[CancelRecord(**cancel) for cancel in record["cancels"]],
        )


class Store:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.closing = False
        self._pending_save: asyncio.TimerHandle | None = None
        self._reset_state()
        if config.state_file is not None and config.state_file.exists():
            self._load(config.state_file)

    def _reset_state(self) -> None:
        config = self.config
        self._ids = random.Random(config.seed)
        self.orgs: dict[str, Org] = {}
        self.tokens: dict[str, str] = {}
        self.projects: dict[tuple[str, str], Project] = {}
        self.jobs: dict[str, Job] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.create_attempts: list[dict[str, Any]] = []
        self.inference_calls: list[dict[str, Any]] = []
        self._config_lost_creates = FirstN()
        self.settings = config.settings
        self.set_global_faults(config.faults)
        self._seed_identity(config.token, config.org_slug, config.project_slug)
        self._seed_identity("other-token", "other-org", "other-project")

    def reset(self) -> None:
        """Forget every job, call record, runtime fault and setting; keep the seeded identities.

        Streams still open on a forgotten job are closed without ``end``.
        """
        for job in self.jobs.values():
            self._stop(job)
            self._finish_stream(job, end_frame=False)
        self._reset_state()
        self.state_changed()

    def shutdown(self) -> None:
        """Stop simulations, let open streams finish promptly, write the state file."""
        self.closing = True
        for job in self.jobs.values():
            self._stop(job)
            job.notify()
        if self.config.state_file is not None:
            self.save()

    # -- state file -----------------------------------------------------------

    def state_changed(self) -> None:
        """Write the state file within ``SAVE_DELAY`` (batched: a run steps faster).

        The write runs as a loop callback, so never in the middle of a simulation
        step: the file always holds whole steps, and a resumed job repeats none.
        """
        if self.config.state_file is None or self._pending_save is not None:
            return
        self._pending_save = asyncio.get_running_loop().call_later(SAVE_DELAY, self.save)

    def save(self) -> None:
        """Write jobs, projects, idempotency records and create attempts atomically."""
        if self._pending_save is not None:
            self._pending_save.cancel()
            self._pending_save = None
        path = self.config.state_file
        assert path is not None, "save() needs EmulatorConfig.state_file"
        state = {
            "projects": [asdict(project) for project in self.projects.values()],
            "jobs": [job.persisted() for job in self.jobs.values()],
            "idempotency": [[*key, job_id] for key, job_id in self.idempotency.items()],
            "createAttempts": self.create_attempts,
        }
        temporary = path.with_name(f"{path.name}.tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, path)

    def _load(self, path: Path) -> None:
        """Take the jobs back; queued and running ones wait for ``resume_simulations``."""
        state = json.loads(path.read_text())
        for record in state["projects"]:
            project = Project(**record)
            self.projects.setdefault((project.org_id, project.slug), project)
        self.jobs = {job.id: job for job in map(Job.restored, state["jobs"])}
        self.idempotency = {
            (project_id, key): job_id for project_id, key, job_id in state["idempotency"]
        }
        self.create_attempts = state["createAttempts"]

    # -- faults ---------------------------------------------------------------

    def set_global_faults(self, faults: Faults) -> None:
        """Replace the global fault set; its counts start again."""
        self.global_faults = faults
        self.global_injector = ErrorInjector(self.config.seed)
        self._global_lost_creates = FirstN()

    def set_settings(self, settings: GlobalSettings) -> None:
        self.settings = settings

    def faults_for(self, job: Job) -> Faults:
        return job.plan.faults.over(self.global_faults)

    def should_lose_create_response(self, run: str, job_faults: Faults) -> bool:
        """``loseCreateResponse: N``: the first N jobs each run creates lose their answer.

        Counted per run (``run`` names it), since every retry makes a new job: the
        job config's limit against its own count, else the global one.
        """
        if job_faults.lose_create_response is not None:
            return self._config_lost_creates.hit(run, job_faults.lose_create_response)
        return self._global_lost_creates.hit(run, self.global_faults.lose_create_response)

    # -- identities -----------------------------------------------------------

    def _seed_identity(self, token: str, org_slug: str, project_slug: str) -> None:
        user_id = stable_id("user_", token)
        org = self._add_org(org_slug, org_slug.replace("-", " ").title(), user_id)
        self.tokens[token] = user_id
        self._add_project(org, project_slug, project_slug)

    def _add_org(self, slug: str, name: str, member: str) -> Org:
        org = Org(id=stable_id("org_", slug), slug=slug, name=name, members={member})
        self.orgs[slug] = org
        return org

    def issue_anonymous(self) -> tuple[str, str, Org]:
        short = f"{self._ids.getrandbits(32):08x}"
        anonymous_id = f"anon_{short}"
        token = f"anon-token-{self._ids.getrandbits(64):016x}"
        org = self._add_org(f"anon-{short}", "Anonymous", anonymous_id)
        self.tokens[token] = anonymous_id
        return token, anonymous_id, org

    def orgs_of(self, user_id: str) -> list[Org]:
        return [org for org in self.orgs.values() if user_id in org.members]

    def create_project(self, org: Org, name: str, slug: str) -> Project | None:
        """The new project, or ``None`` when the slug is taken in that org."""
        if (org.id, slug) in self.projects:
            return None
        project = self._add_project(org, name, slug)
        self.state_changed()
        return project

    def _add_project(self, org: Org, name: str, slug: str) -> Project:
        project = Project(id=stable_id("proj_", org.id, slug), slug=slug, name=name, org_id=org.id)
        self.projects[(org.id, slug)] = project
        return project

    def projects_of(self, org: Org) -> list[Project]:
        return [p for (org_id, _), p in self.projects.items() if org_id == org.id]

    # -- jobs -----------------------------------------------------------------

    def find_idempotent(self, project: Project, key: str | None) -> Job | None:
        """The job an earlier create with ``key`` made, if the switch honours keys at all."""
        if not (key and self.settings.honour_idempotency_key):
            return None
        job_id = self.idempotency.get((project.id, key))
        return self.jobs[job_id] if job_id else None

    def create_job(
        self,
        project: Project,
        name: str,
        config: dict[str, Any],
        plan: TrainingPlan,
        idempotency_key: str | None,
    ) -> Job:
        # Ids are unique across emulator restarts, as a real backend's are (the dev
        # server keeps its history between stacks); the job's randomness comes from the
        # seed and the job's creation order, so a run is reproducible all the same.
        job_id = str(uuid.uuid4())
        seed = job_seed(self.config.seed, str(len(self.jobs)))
        job = Job(
            id=job_id,
            seed=seed,
            org_id=project.org_id,
            project_id=project.id,
            name=name,
            config=config,
            plan=plan,
            injector=ErrorInjector(seed),
            idempotency_key=idempotency_key,
        )
        self.jobs[job_id] = job
        if idempotency_key:
            # The first job a key made, even while keys are ignored and it makes more.
            self.idempotency.setdefault((project.id, idempotency_key), job_id)
        self.state_changed()
        return job

    def jobs_in(self, project: Project) -> list[Job]:
        return [job for job in self.jobs.values() if job.project_id == project.id]

    def append_event(self, job: Job, event_type: str, **fields: Any) -> StoredEvent:
        data = {"type": event_type, "jobId": job.id, "timestamp": utc_now_iso(), **fields}
        event = StoredEvent(id=self._next_event_id(job), type=event_type, data=data)
        job.event_positions[event.id] = len(job.events)
        job.events.append(event)
        job.notify()
        self.state_changed()
        return event

    @staticmethod
    def _next_event_id(job: Job) -> str:
        """Opaque and unordered (docs/protocol.md §3.1, §14.5): ids never sort in stream
        order, so a client that compares them fails here; ``orderedIds`` is the easy way."""
        position = len(job.events)
        if job.plan.ordered_ids:
            return f"{job.id[:8]}-evt-{position + 1}"
        salt = 0
        while (event_id := opaque_id(job.seed, position, salt)) in job.event_positions:
            salt += 1  # a hash collision within the job: resume must find exactly one event
        return event_id

    def mark_running(self, job: Job, metadata: dict[str, Any]) -> None:
        job.status = "running"
        job.started_at = utc_now_iso()
        self.append_event(job, "training.started", metadata=metadata)

    def complete(self, job: Job, metrics: dict[str, Any], artifacts: list[dict[str, str]]) -> None:
        job.status = "completed"
        job.completed_at = utc_now_iso()
        self.append_event(job, "training.completed", metrics=metrics, artifacts=artifacts)
        self._finish_stream(job, end_frame=True)

    def fail(self, job: Job, error: str, step: int) -> None:
        job.status = "failed"
        job.error = error
        job.completed_at = utc_now_iso()
        self.append_event(job, "training.failed", error=error, step=step)
        self._finish_stream(job, end_frame=True)

    def cancel(self, job: Job) -> tuple[int, dict[str, Any]]:
        """Apply a cancel request; returns the HTTP status and body to answer."""
        before = job.status
        if job.terminal:
            message = "already cancelled" if before == "cancelled" else f"job already {before}"
            job.cancels.append(CancelRecord(utc_now_iso(), before, 409))
            self.state_changed()
            return 409, {"error": message}
        job.cancels.append(CancelRecord(utc_now_iso(), before, 200))
        self._stop(job)
        job.status = "cancelled"
        job.completed_at = utc_now_iso()
        self.state_changed()
        variant: PostCancel = self.faults_for(job).post_cancel or "end"
        if variant == "failed":
            self.append_event(
                job, "training.failed", error="cancelled by user", step=job.current_step
            )
        elif variant == "unknown":
            self.append_event(job, "training.cancelled", step=job.current_step)
        self._finish_stream(job, end_frame=variant != "unknown")
        return 200, {"ok": True}

    def forget(self, job: Job) -> None:
        """Drop the job, as a backend restarted without its data would: every route 404s."""
        self._stop(job)
        del self.jobs[job.id]
        self._finish_stream(job, end_frame=False)
        self.state_changed()

    @staticmethod
    def _finish_stream(job: Job, *, end_frame: bool) -> None:
        job.stream_finished = True
        job.end_frame = end_frame
        job.notify()

    @staticmethod
    def _stop(job: Job) -> None:
        if job.task is not None and not job.task.done():
            job.task.cancel()
