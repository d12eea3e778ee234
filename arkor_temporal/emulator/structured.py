"""Constrained-decoding stand-ins: values valid for a JSON Schema or a regex.

Schema support: ``const``, ``enum``, ``anyOf``/``oneOf`` (first branch),
``allOf`` (shallow merge), ``type`` (string or list) of object (every listed
property plus any ``required`` one), array (``items``, ``minItems``,
``maxItems``), string (``minLength``, ``maxLength``, ``pattern``, a few
``format`` values), number/integer (``minimum``, ``maximum`` and their
exclusive forms), boolean and null. ``$ref`` is not resolved.

Regex support (full-match semantics, as vLLM applies them): literals, ``.``,
classes with ranges, negation and ``\\d \\w \\s``, groups, alternation
(first branch), anchors and every quantifier (its minimum count). Before
generating, the preferred candidates (e.g. the reference answer) are tried, so
``^(billing|technical)$`` yields the reference category when it is one of the
branches. Back-references and look-arounds are unsupported (400).
"""

from __future__ import annotations

import math
import re
import string
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

with warnings.catch_warnings():
    # The stdlib regex parser is the simplest correct way to walk a pattern;
    # its public alias is deprecated but stable throughout 3.11-3.13.
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c
    import sre_parse

_CATEGORIES: dict[object, Callable[[str], bool]] = {
    c.CATEGORY_DIGIT: str.isdigit,
    c.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdigit(),
    c.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    c.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
    c.CATEGORY_SPACE: str.isspace,
    c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
}
_CLASS_CANDIDATES = string.ascii_lowercase + string.digits + string.ascii_uppercase + " _-.,!?"


class UnsupportedConstraint(ValueError):
    """The emulator cannot produce output satisfying this constraint."""


def regex_sample(pattern: str, preferred: Sequence[str] = ()) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise UnsupportedConstraint(f"invalid regex: {exc}") from None
    for candidate in preferred:
        if compiled.fullmatch(candidate):
            return candidate
    sample = _generate(sre_parse.parse(pattern))
    if compiled.fullmatch(sample) is None:
        raise UnsupportedConstraint(f"regex not supported by the emulator: {pattern}")
    return sample


def _generate(parsed: Any) -> str:
    return "".join(_generate_item(op, av) for op, av in parsed)


def _generate_item(op: object, av: Any) -> str:
    if op is c.LITERAL:
        return chr(av)
    if op is c.NOT_LITERAL:
        return "a" if av != ord("a") else "b"
    if op is c.ANY:
        return "x"
    if op is c.IN:
        return _class_member(av)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        low, _high, sub = av
        return _generate(sub) * int(low)
    if op is c.SUBPATTERN:
        return _generate(av[-1])
    if op is c.BRANCH:
        return _generate(av[1][0])
    if op is c.AT:
        return ""
    raise UnsupportedConstraint(f"regex construct {op} not supported by the emulator")


def _class_member(items: list[tuple[object, Any]]) -> str:
    negate = any(op is c.NEGATE for op, _ in items)

    def contains(ch: str) -> bool:
        hit = False
        for op, av in items:
            if op is c.LITERAL:
                hit = hit or ord(ch) == av
            elif op is c.RANGE:
                hit = hit or av[0] <= ord(ch) <= av[1]
            elif op is c.CATEGORY:
                hit = hit or _CATEGORIES[av](ch)
        return hit != negate

    member = next((ch for ch in _CLASS_CANDIDATES if contains(ch)), None)
    if member is None:
        for op, av in items:
            if op is c.LITERAL:
                return chr(av)
            if op is c.RANGE:
                return chr(av[0])
        raise UnsupportedConstraint("character class not supported by the emulator")
    return member


def schema_instance(schema: Any, hints: Mapping[str, str], name: str = "") -> Any:
    """A value valid for ``schema``; ``hints`` supply strings by property name."""
    if not isinstance(schema, dict):
        return hints.get(name, "answer")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = schema["enum"]
        return hints[name] if hints.get(name) in options else options[0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return schema_instance(schema[key][0], hints, name)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                merged.update(part)
        return schema_instance(merged, hints, name)
    kind = _type_of(schema)
    generator = _GENERATORS.get(kind)
    if generator is None:
        raise UnsupportedConstraint(f"schema type {kind!r} not supported by the emulator")
    return generator(schema, hints, name)


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            return "object"
        return "array" if "items" in schema else "string"
    return str(kind)


def _object(schema: dict[str, Any], hints: Mapping[str, str], _name: str) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    names = list(properties) + [k for k in schema.get("required", []) if k not in properties]
    return {key: schema_instance(properties.get(key, {}), hints, key) for key in names}


def _array(schema: dict[str, Any], hints: Mapping[str, str], name: str) -> list[Any]:
    count = max(int(schema.get("minItems", 1)), 1)
    if "maxItems" in schema:
        count = min(count, int(schema["maxItems"]))
    return [schema_instance(schema.get("items", {}), hints, name) for _ in range(count)]


_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "email": "support@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: dict[str, Any], hints: Mapping[str, str], name: str) -> str:
    preferred = [hints[name]] if name in hints else []
    if "pattern" in schema:
        # JSON Schema patterns are unanchored searches; a full match satisfies them.
        return regex_sample(schema["pattern"], preferred)
    value = preferred[0] if preferred else _FORMATS.get(schema.get("format", ""), "answer")
    value = value.ljust(int(schema.get("minLength", 0)), "x")
    if "maxLength" in schema:
        value = value[: int(schema["maxLength"])]
    return value


def _number(schema: dict[str, Any], _hints: Mapping[str, str], _name: str) -> float:
    value = 0.0
    if "minimum" in schema:
        value = float(schema["minimum"])
    elif "exclusiveMinimum" in schema:
        value = float(schema["exclusiveMinimum"]) + 1
    if "maximum" in schema:
        value = min(value, float(schema["maximum"]))
    elif "exclusiveMaximum" in schema:
        value = min(value, float(schema["exclusiveMaximum"]) - 1)
    return value


def _integer(schema: dict[str, Any], hints: Mapping[str, str], name: str) -> int:
    value = math.ceil(_number(schema, hints, name))
    return min(value, math.floor(schema["maximum"])) if "maximum" in schema else value


_GENERATORS: dict[str, Callable[[dict[str, Any], Mapping[str, str], str], Any]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": lambda _s, _h, _n: True,
    "null": lambda _s, _h, _n: None,
}
