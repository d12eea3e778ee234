"""The base of every spec section (imported by the spec and by the sections defined elsewhere)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _title(name: str, _info: object) -> str:
    """A field's title in the JSON Schema: ``max_steps`` is "Max steps", not "Maxsteps"."""
    return name.replace("_", " ").capitalize()


class SpecModel(BaseModel):
    """Base for spec sections: camelCase in files, strict about unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        field_title_generator=_title,
    )
