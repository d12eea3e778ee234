"""Plain-httpx helpers for the emulator tests (deliberately not the project client)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from arkor_temporal.dev.local import EMULATOR_IDENTITY
from arkor_temporal.emulator import EmulatorConfig
from tests.support.waiting import eventually_blocking

CLIENT = "arkor/0.0.3-alpha.1"
TOKEN = EMULATOR_IDENTITY.token
SCOPE = {"orgSlug": EMULATOR_IDENTITY.org, "projectSlug": EMULATOR_IDENTITY.project}
MODEL = "unsloth/gemma-4-E4B-it"
ISO_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def fast_config(**overrides: Any) -> EmulatorConfig:
    """Time-compressed settings: 200 steps/s, 0.2 s pings, 50 ms in the queue."""
    settings: dict[str, Any] = {"steps_per_second": 200.0, "ping_interval": 0.2}
    settings.update(queue_seconds=0.05, **overrides)
    return EmulatorConfig(**settings)


@dataclass(frozen=True)
class Frame:
    event: str | None
    data: str
    id: str | None

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def api(base_url: str, token: str = TOKEN, scope: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"X-Arkor-Client": CLIENT, "Authorization": f"Bearer {token}"},
        params=scope if scope is not None else SCOPE,
        timeout=10.0,
    )


def parse_sse(raw: bytes) -> list[Frame]:
    """Minimal SSE parser (leading BOM dropped, CRLF/CR/LF, comments skipped, data joined).

    What follows the last blank line is an unfinished frame, dropped as the SSE spec does.
    """
    frames: list[Frame] = []
    text = raw.decode().removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n")[:-1]:
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
        if "data" in fields:
            frames.append(
                Frame(
                    event=fields.get("event", [None])[-1],
                    data="\n".join(fields["data"]),
                    id=fields.get("id", [None])[-1],
                )
            )
    return frames


def stream_writes(
    client: httpx.Client, job_id: str, last_event_id: str | None = None
) -> tuple[int, list[bytes]]:
    """The status and the body as received, cut where the server cut its writes (or finer)."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    with client.stream("GET", f"/v1/jobs/{job_id}/events/stream", headers=headers) as response:
        return response.status_code, list(response.iter_raw())


def read_stream(
    client: httpx.Client, job_id: str, last_event_id: str | None = None
) -> tuple[int, list[Frame], bytes]:
    status, writes = stream_writes(client, job_id, last_event_id)
    raw = b"".join(writes)
    return status, parse_sse(raw), raw


def data_frames(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.event not in ("ping", "end")]


def train_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The logs of a logging step: eval and summary logs carry no learning rate."""
    return [log for log in logs if log.get("learningRate") is not None]


def job_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model": MODEL,
        "datasetSource": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "maxSteps": 20,
    }
    config.update(overrides)
    return config


def create_job(client: httpx.Client, **overrides: Any) -> str:
    response = client.post("/v1/jobs", json={"name": "test-run", "config": job_config(**overrides)})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job"]["id"]
    return job_id


def job_status(client: httpx.Client, job_id: str) -> str:
    status: str = client.get(f"/v1/jobs/{job_id}").json()["job"]["status"]
    return status


def wait_status(client: httpx.Client, job_id: str, *statuses: str, within: float = 5.0) -> str:
    """Poll the job until its status is one of ``statuses``; return that status."""
    return eventually_blocking(
        lambda: job_status(client, job_id),
        lambda status: status in statuses,
        within=within,
        what=f"job {job_id} to be {' or '.join(statuses)}",
    )


def stored_events(base_url: str, job_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = httpx.get(f"{base_url}/_emulator/jobs/{job_id}/events").json()[
        "events"
    ]
    return events
