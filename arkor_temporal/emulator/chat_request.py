"""Validation of ``POST /v1/inference/chat`` bodies (docs/protocol.md §5.1, §5.4).

Every problem is a 4xx ``ApiError``; nothing a client sends can cause a 5xx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from arkor_temporal.emulator.errors import ApiError

ConstraintKind = Literal["json_schema", "json_object", "regex", "choice", "grammar"]
STRUCTURED_KEYS: dict[str, ConstraintKind] = {
    "json": "json_schema",
    "regex": "regex",
    "choice": "choice",
    "grammar": "grammar",
    "json_object": "json_object",
}


@dataclass(frozen=True)
class Constraint:
    kind: ConstraintKind
    value: Any = None


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    adapter: dict[str, Any] | None
    base_model: str | None
    stream: bool
    max_tokens: int | None
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    constraint: Constraint | None

    @property
    def prompt(self) -> str:
        """Text of the last user message (content parts are concatenated)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""

    @property
    def forced_tool(self) -> dict[str, Any] | None:
        """The function a ``required``/named ``toolChoice`` makes the model call."""
        if self.tool_choice == "required":
            return dict(self.tools[0]["function"])
        if isinstance(self.tool_choice, dict):
            name = self.tool_choice["function"]["name"]
            return next(dict(t["function"]) for t in self.tools if t["function"]["name"] == name)
        return None

    @property
    def wants_auto_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice == "auto"


def parse_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty array")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise _bad("every message must be an object with a role")
    adapter, base_model = body.get("adapter"), body.get("baseModel")
    if (adapter is None) == (base_model is None):
        raise _bad("exactly one of adapter and baseModel is required")
    if adapter is not None and not isinstance(adapter, dict):
        raise ApiError(422, "bad adapter")
    if base_model is not None and not isinstance(base_model, str):
        raise _bad("baseModel must be a string")
    for key in ("temperature", "topP"):
        if key in body and not _is_number(body[key]):
            raise _bad(f"{key} must be a number")
    max_tokens = body.get("maxTokens")
    if max_tokens is not None and not (_is_number(max_tokens) and int(max_tokens) >= 1):
        raise _bad("maxTokens must be a positive integer")
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        raise _bad("stream must be a boolean")
    tools = _tools(body.get("tools"))
    return ChatRequest(
        messages=messages,
        adapter=adapter,
        base_model=base_model,
        stream=stream,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        tools=tools,
        tool_choice=_tool_choice(body.get("toolChoice"), tools),
        constraint=_constraint(body.get("responseFormat"), body.get("structuredOutputs")),
    )


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    valid = isinstance(raw, list) and all(
        isinstance(t, dict)
        and t.get("type") == "function"
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
        for t in raw
    )
    if not valid:
        raise _bad('tools must be an array of {"type":"function","function":{"name":...}}')
    return list(raw)


def _tool_choice(raw: Any, tools: list[dict[str, Any]]) -> str | dict[str, Any]:
    if raw is None:
        return "auto"  # docs/protocol.md §5.1: tools without toolChoice means "auto"
    if raw in ("auto", "none"):
        return str(raw)
    if not tools:
        raise _bad("toolChoice requires tools")
    if raw == "required":
        return "required"
    if isinstance(raw, dict) and isinstance(raw.get("function"), dict):
        name = raw["function"].get("name")
        if any(t["function"]["name"] == name for t in tools):
            return raw
        raise _bad(f"toolChoice names an unknown function: {name!r}")
    raise _bad('toolChoice must be "auto", "none", "required" or {"type":"function",...}')


def _constraint(response_format: Any, structured: Any) -> Constraint | None:
    from_format = _response_format(response_format)
    from_structured = _structured_outputs(structured)
    if from_format and from_structured:
        raise _bad("structuredOutputs cannot be combined with a responseFormat constraint")
    return from_format or from_structured


def _response_format(raw: Any) -> Constraint | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return Constraint("json_object")
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise _bad("responseFormat.json_schema.schema must be an object")
        if spec.get("strict") is True and not _closed_objects(spec["schema"]):
            raise _bad(
                "invalid_schema: strict mode requires additionalProperties:false "
                "on every object schema"
            )
        return Constraint("json_schema", spec["schema"])
    raise _bad('responseFormat.type must be "text", "json_object" or "json_schema"')


def _structured_outputs(raw: Any) -> Constraint | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("structuredOutputs must be an object")
    present = [k for k in STRUCTURED_KEYS if raw.get(k) not in (None, False)]
    if len(present) != 1:
        raise _bad(
            "structuredOutputs needs exactly one of json, regex, choice, grammar, json_object"
        )
    key = present[0]
    value = raw[key]
    if key == "json" and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad("structuredOutputs.json must be a JSON Schema") from None
    if key == "json" and not isinstance(value, dict):
        raise _bad("structuredOutputs.json must be a JSON Schema")
    if key == "choice" and not (
        isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    ):
        raise _bad("structuredOutputs.choice must be a non-empty array of strings")
    if key in ("regex", "grammar") and not (isinstance(value, str) and value.strip()):
        raise _bad(f"structuredOutputs.{key} must be a non-blank string")
    if key == "json_object" and value is not True:
        raise _bad("structuredOutputs.json_object must be true")
    return Constraint(STRUCTURED_KEYS[key], value)


def _closed_objects(schema: Any) -> bool:
    """True when every object schema inside says ``additionalProperties: false``."""
    if isinstance(schema, list):
        return all(_closed_objects(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    is_object = schema.get("type") == "object" or "properties" in schema
    if is_object and schema.get("additionalProperties") is not False:
        return False
    return all(_closed_objects(v) for v in schema.values() if isinstance(v, dict | list))
