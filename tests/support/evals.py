"""Shared by the eval and hook tests: a job trained to completion on the emulator."""

from __future__ import annotations

from typing import Any

import httpx

from arkor_cloud import ArkorClient, ClientSettings
from arkor_temporal.emulator.triage import load_dataset
from tests.support.waiting import eventually

MODEL = "unsloth/gemma-4-E4B-it"
TRIAGE = load_dataset()
TICKET_SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": list(TRIAGE.categories)},
        "priority": {"type": "string", "enum": list(TRIAGE.priorities)},
    },
    "required": ["category", "priority"],
}
ROUTE_TOOL = {"type": "function", "function": {"name": "route_ticket", "parameters": TICKET_SCHEMA}}
FAST_RETRIES = (0.01, 0.01, 0.01)


def triage_cases() -> list[dict[str, Any]]:
    return [
        {
            "name": f"ticket-{i}",
            "messages": [{"role": "user", "content": example.prompt}],
            "maxTokens": 64,
            "expect": {"type": "exact", "value": example.answer},
        }
        for i, example in enumerate(TRIAGE.examples)
    ]


def structured_cases() -> list[dict[str, Any]]:
    example = TRIAGE.examples[0]
    user = [{"role": "user", "content": example.prompt}]
    return [
        {
            "name": "json-ticket",
            "messages": user,
            "responseFormat": {
                "type": "json_schema",
                "json_schema": {"name": "ticket", "schema": TICKET_SCHEMA},
            },
            "expect": {"type": "jsonSchema", "schema": TICKET_SCHEMA},
        },
        {
            "name": "choice-category",
            "messages": user,
            "structuredOutputs": {"choice": list(TRIAGE.categories)},
            "expect": {
                "type": "choice",
                "choices": list(TRIAGE.categories),
                "answer": example.reference["category"],
            },
        },
    ]


async def trained_job(settings: ClientSettings, **emulator: Any) -> str:
    """A job run to completion on the emulator: 100 steps, a checkpoint every 25."""
    config: dict[str, Any] = {
        "model": MODEL,
        "datasetSource": {"type": "huggingface", "name": "arkorlab/triage-demo"},
        "maxSteps": 100,
        "saveSteps": 25,
    }
    if emulator:
        config["emulator"] = emulator
    async with ArkorClient(settings) as client:
        job = await client.create_job("eval-test", config)
    # Status comes from the inspection surface: job faults would hit API polls too.
    async with httpx.AsyncClient(base_url=settings.base_url) as inspect:

        async def status() -> str:
            jobs = (await inspect.get("/_emulator/jobs")).json()["jobs"]
            found: str = next(j["status"] for j in jobs if j["id"] == job.id)
            return found

        await eventually(
            status, lambda found: found == "completed", within=15, what=f"job {job.id} to complete"
        )
    return job.id
