"""``POST /v1/inference/chat``: shapes, constraints, tools, adapters and quality."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema
import pytest

from arkor_temporal.emulator import EmulatorServer
from arkor_temporal.emulator.triage import load_dataset
from tests.support.emulator import MODEL, api, create_job, parse_sse, read_stream

TICKET = load_dataset().examples[0]
SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "technical", "account", "shipping"]},
        "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
        "escalate": {"type": "boolean"},
        "count": {"type": "integer", "minimum": 3},
    },
    "required": ["category", "priority", "confidence"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "route_ticket",
            "parameters": {
                "type": "object",
                "properties": {"category": {"type": "string"}, "priority": {"type": "string"}},
                "required": ["category", "priority"],
            },
        },
    },
    {"type": "function", "function": {"name": "noop"}},
]


@pytest.fixture(scope="module")
def trained(emu: EmulatorServer) -> str:
    """A completed job with checkpoints every 10 steps."""
    with api(emu.base_url) as client:
        job_id = create_job(
            client,
            maxSteps=100,
            saveSteps=10,
            emulator={"faults": {"toolCallingNotConfigured": True}},
        )
        read_stream(client, job_id)
    return job_id


def chat(client: httpx.Client, **body: Any) -> httpx.Response:
    payload = {"messages": [{"role": "user", "content": TICKET.prompt}], "stream": False}
    payload.update(body)
    return client.post("/v1/inference/chat", json=payload)


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


def test_non_streaming_completion_shape(client: httpx.Client, trained: str) -> None:
    response = chat(client, adapter={"kind": "final", "jobId": trained})
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"] and body["created"]
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": TICKET.answer}
    assert body["usage"]["total_tokens"] > 0


def test_streaming_chunks_end_with_done(client: httpx.Client, trained: str) -> None:
    response = chat(client, adapter={"kind": "final", "jobId": trained}, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(response.content)
    assert frames[-1].data == "[DONE]"
    chunks = [f.json for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == TICKET.answer and len(chunks) >= 4


def test_json_schema_output_is_valid(client: httpx.Client, trained: str) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": SCHEMA, "strict": True}}
    value = json.loads(content(chat(client, baseModel=MODEL, responseFormat=fmt)))
    jsonschema.validate(value, SCHEMA)
    final = chat(client, adapter={"kind": "final", "jobId": trained}, responseFormat=fmt)
    assert json.loads(content(final))["category"] == TICKET.reference["category"]
    structured = chat(client, baseModel=MODEL, structuredOutputs={"json": SCHEMA})
    jsonschema.validate(json.loads(content(structured)), SCHEMA)
    obj = chat(client, baseModel=MODEL, responseFormat={"type": "json_object"})
    assert isinstance(json.loads(content(obj)), dict)


def test_strict_schema_needs_closed_objects(client: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema, "strict": True}}
    response = chat(client, baseModel=MODEL, responseFormat=fmt)
    assert response.status_code == 400 and "invalid_schema" in response.json()["error"]


def test_choice_and_regex(client: httpx.Client, trained: str) -> None:
    final = {"kind": "final", "jobId": trained}
    choices = ["shipping", "billing", "technical"]
    assert content(chat(client, adapter=final, structuredOutputs={"choice": choices})) == "billing"
    assert content(chat(client, baseModel=MODEL, structuredOutputs={"choice": choices})) in choices
    for pattern in ("^(billing|account)$", r"[A-Z]{2}\d{3}-[a-f]+", "ticket-[0-9]+(x|y)?", "OK"):
        text = content(chat(client, baseModel=MODEL, structuredOutputs={"regex": pattern}))
        assert re.fullmatch(pattern, text), (pattern, text)
    assert content(
        chat(client, adapter=final, structuredOutputs={"regex": "^(billing|account)$"})
    ) == ("billing")


@pytest.mark.parametrize(
    "structured",
    [
        {},
        {"choice": ["a"], "regex": "a"},
        {"choice": []},
        {"grammar": "  "},
        {"regex": "(unclosed"},
    ],
)
def test_bad_structured_outputs_are_400(client: httpx.Client, structured: dict[str, Any]) -> None:
    assert chat(client, baseModel=MODEL, structuredOutputs=structured).status_code == 400


def test_structured_outputs_cannot_combine_with_response_format(client: httpx.Client) -> None:
    response = chat(
        client,
        baseModel=MODEL,
        responseFormat={"type": "json_object"},
        structuredOutputs={"choice": ["a"]},
    )
    assert response.status_code == 400


def test_tools(client: httpx.Client, trained: str) -> None:
    final = {"kind": "final", "jobId": trained}
    required = chat(client, adapter=final, tools=TOOLS, toolChoice="required").json()
    choice = required["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "route_ticket"
    assert json.loads(call["function"]["arguments"]) == TICKET.reference
    named = {"type": "function", "function": {"name": "noop"}}
    call = chat(client, baseModel=MODEL, tools=TOOLS, toolChoice=named).json()
    assert call["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"
    streamed = chat(client, baseModel=MODEL, tools=TOOLS, toolChoice="required", stream=True)
    deltas = [f.json["choices"][0]["delta"] for f in parse_sse(streamed.content)[:-1]]
    assert any("tool_calls" in d for d in deltas)
    auto = chat(client, adapter=final, tools=TOOLS)
    assert auto.status_code == 400 and auto.json() == {"error": "tool_calling_not_configured"}
    assert content(chat(client, baseModel=MODEL, tools=TOOLS, toolChoice="auto"))


def test_adapter_rules(client: httpx.Client, trained: str) -> None:
    unsaved = chat(client, adapter={"kind": "checkpoint", "jobId": trained, "step": 15})
    assert unsaved.status_code == 422 and unsaved.json() == {"error": "bad adapter"}
    assert chat(client, adapter={"kind": "checkpoint", "jobId": trained, "step": 10}).is_success
    unknown = chat(client, adapter={"kind": "final", "jobId": "nope"})
    assert unknown.status_code == 422
    running = create_job(client, maxSteps=5000)
    not_ready = chat(client, adapter={"kind": "final", "jobId": running})
    assert not_ready.status_code == 409 and not_ready.json() == {"error": "adapter not ready"}
    client.post(f"/v1/jobs/{running}/cancel")
    assert chat(client, baseModel="gpt-2").status_code == 400
    both = chat(client, baseModel=MODEL, adapter={"kind": "final", "jobId": trained})
    assert both.status_code == 400
    assert client.post("/v1/inference/chat", content=b"{oops").status_code == 400


def test_max_tokens_truncates(client: httpx.Client, trained: str) -> None:
    response = chat(client, adapter={"kind": "final", "jobId": trained}, maxTokens=2)
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert TICKET.answer.startswith(body["choices"][0]["message"]["content"])
    assert body["usage"]["completion_tokens"] == 2


def test_unknown_prompts_get_a_deterministic_answer(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "What is the meaning of life?"}]
    first = content(chat(client, baseModel=MODEL, messages=messages))
    assert first and first == content(chat(client, baseModel=MODEL, messages=messages))


def test_quality_rises_with_training(client: httpx.Client, trained: str) -> None:
    def accuracy(**target: Any) -> int:
        hits = 0
        for example in load_dataset().examples:
            messages = [{"role": "user", "content": example.prompt}]
            hits += content(chat(client, messages=messages, **target)) == example.answer
        return hits

    scores = [
        accuracy(baseModel=MODEL),
        accuracy(adapter={"kind": "checkpoint", "jobId": trained, "step": 10}),
        accuracy(adapter={"kind": "checkpoint", "jobId": trained, "step": 50}),
        accuracy(adapter={"kind": "final", "jobId": trained}),
    ]
    assert scores == sorted(scores) and scores[-1] > scores[0]
    assert scores[-1] >= 10


def test_inference_calls_are_recorded(
    client: httpx.Client, emu: EmulatorServer, trained: str
) -> None:
    chat(client, adapter={"kind": "checkpoint", "jobId": trained, "step": 20}, stream=True)
    calls = httpx.get(f"{emu.base_url}/_emulator/inference", params={"jobId": trained}).json()
    last = calls["calls"][-1]
    assert last["adapterKind"] == "checkpoint" and last["step"] == 20
    assert last["stream"] is True and last["status"] == 200 and last["baseModel"] is None
