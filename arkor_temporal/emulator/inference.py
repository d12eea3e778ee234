"""Emulated inference: pick the model behind a request and answer like vLLM.

Output is deterministic. Known triage prompts are answered with their
reference more often as training progresses (see :mod:`emulator.triage`);
anything else gets a fixed generic sentence. Tokens are 4-character slices,
which is all ``maxTokens`` truncation and ``usage`` need.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from arkor_temporal.emulator.chat_request import ChatRequest
from arkor_temporal.emulator.errors import ApiError
from arkor_temporal.emulator.hashing import stable_id, unit_hash
from arkor_temporal.emulator.sse import DONE, data_frame, to_json
from arkor_temporal.emulator.store import Job
from arkor_temporal.emulator.structured import UnsupportedConstraint, regex_sample, schema_instance
from arkor_temporal.emulator.triage import Answer, TriageDataset

CHARS_PER_TOKEN = 4
STREAM_PIECES = 3
GENERIC_ANSWERS = (
    "I can help triage support tickets: tell me what happened and I will suggest a category.",
    "Thanks for reaching out. Could you share more details so I can route your request?",
    "This looks like a general question; a support agent will follow up shortly.",
)


@dataclass(frozen=True)
class Target:
    """The model answering: a base model, or an adapter of a job."""

    model: str
    quality: float
    variant: str
    job: Job | None = None
    adapter_kind: str | None = None
    step: int | None = None


def resolve_target(
    request: ChatRequest, jobs: Mapping[str, Job], supported_models: tuple[str, ...]
) -> Target:
    if request.base_model is not None:
        if request.base_model not in supported_models:
            raise ApiError(400, f"unsupported baseModel; supported: {', '.join(supported_models)}")
        return Target(model=request.base_model, quality=0.0, variant="base")
    adapter = request.adapter or {}
    job = jobs.get(str(adapter.get("jobId")))
    kind = adapter.get("kind")
    if job is None or kind not in ("final", "checkpoint"):
        raise ApiError(422, "bad adapter")
    if kind == "final":
        if job.status != "completed":
            raise ApiError(409, "adapter not ready")
        return Target(f"{job.id}/final", 1.0, "final", job, "final")
    step = adapter.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step not in job.saved_steps:
        raise ApiError(422, "bad adapter")
    quality = step / job.plan.total_steps
    return Target(f"{job.id}/checkpoint-{step}", quality, f"step-{step}", job, "checkpoint", step)


@dataclass(frozen=True)
class Completion:
    id: str
    created: int
    model: str
    message: dict[str, Any]
    finish_reason: str
    usage: dict[str, int]


def complete(
    request: ChatRequest, target: Target, dataset: TriageDataset, seed: int, call_number: int
) -> Completion:
    prompt = request.prompt
    example = dataset.find(prompt)
    answer = dataset.answer(example, target.quality, seed, target.variant) if example else None
    forced = request.forced_tool
    finish_reason = "stop"
    if forced is not None:
        message = _tool_call_message(forced, answer, call_number)
        finish_reason = "tool_calls"
        completion_text = message["tool_calls"][0]["function"]["arguments"]
    else:
        text = _constrained_text(request, answer, prompt)
        tokens = _tokens(text)
        if request.max_tokens is not None and len(tokens) > request.max_tokens:
            text = "".join(tokens[: request.max_tokens])
            finish_reason = "length"
        message = {"role": "assistant", "content": text}
        completion_text = text
    prompt_chars = sum(len(str(m.get("content") or "")) for m in request.messages)
    prompt_tokens = math.ceil(prompt_chars / CHARS_PER_TOKEN)
    completion_tokens = len(_tokens(completion_text))
    return Completion(
        id=stable_id("chatcmpl-", target.model, prompt, call_number),
        created=int(time.time()),
        model=target.model,
        message=message,
        finish_reason=finish_reason,
        usage={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )


def completion_body(completion: Completion) -> dict[str, Any]:
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {"index": 0, "finish_reason": completion.finish_reason, "message": completion.message}
        ],
        "usage": completion.usage,
    }


def completion_chunks(completion: Completion) -> Iterator[bytes]:
    """OpenAI ``chat.completion.chunk`` frames, then ``data: [DONE]`` (docs/protocol.md §14.10)."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return data_frame(
            {
                "id": completion.id,
                "object": "chat.completion.chunk",
                "created": completion.created,
                "model": completion.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    tool_calls = completion.message.get("tool_calls")
    if tool_calls:
        yield chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(tool_calls)]})
    else:
        for piece in _pieces(completion.message["content"]):
            yield chunk({"content": piece})
    yield chunk({}, completion.finish_reason)
    yield DONE


def _constrained_text(request: ChatRequest, answer: Answer | None, prompt: str) -> str:
    fields = answer.fields if answer else {}
    text = answer.text if answer else GENERIC_ANSWERS[int(unit_hash(prompt) * len(GENERIC_ANSWERS))]
    constraint = request.constraint
    try:
        if constraint is None or constraint.kind == "grammar":
            # Grammars are not interpreted; the plain answer is returned.
            return text
        if constraint.kind == "json_schema":
            return to_json(schema_instance(constraint.value, fields))
        if constraint.kind == "json_object":
            return to_json(fields or {"answer": text})
        if constraint.kind == "choice":
            return _choose(constraint.value, [*fields.values(), text], prompt)
        return regex_sample(constraint.value, [text, to_json(fields), *fields.values()])
    except UnsupportedConstraint as exc:
        raise ApiError(400, str(exc)) from None


def _choose(choices: list[str], preferred: list[str], prompt: str) -> str:
    lowered = {choice.lower(): choice for choice in choices}
    for candidate in preferred:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return choices[int(unit_hash(prompt, *choices) * len(choices))]


def _tool_call_message(
    function: dict[str, Any], answer: Answer | None, call_number: int
) -> dict[str, Any]:
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    try:
        arguments = schema_instance(parameters, answer.fields if answer else {})
    except UnsupportedConstraint as exc:
        raise ApiError(400, str(exc)) from None
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{call_number:06d}",
                "type": "function",
                "function": {"name": function["name"], "arguments": to_json(arguments)},
            }
        ],
    }


def _tokens(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def _pieces(text: str) -> list[str]:
    size = max(1, math.ceil(len(text) / STREAM_PIECES))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
