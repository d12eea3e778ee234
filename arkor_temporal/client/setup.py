"""Registering the workflows' search attributes on a namespace (idempotent).

Self-hosted equivalent, one per attribute:
``temporal operator search-attribute create --name ArkorPhase --type Keyword``;
on Temporal Cloud, ``tcld namespace search-attributes add``.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from arkor_temporal.core import search_attributes as sa


class SearchAttributeConflictError(RuntimeError):
    pass


@dataclass(frozen=True)
class SearchAttributeGaps:
    """How a namespace's search attributes differ from the ones the workflows set."""

    missing: dict[str, IndexedValueType.ValueType]  # name: the type it needs
    mistyped: list[str]  # "ArkorStep is Keyword, not Int"

    @property
    def none(self) -> bool:
        return not self.missing and not self.mistyped


def _type_name(value: IndexedValueType.ValueType) -> str:
    return IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_").capitalize()


async def search_attribute_gaps(client: Client) -> SearchAttributeGaps:
    """Compare the namespace's custom search attributes with ours (one list call)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing: dict[str, IndexedValueType.ValueType] = {}
    mistyped: list[str] = []
    for key in sa.ALL:
        wanted = IndexedValueType.ValueType(int(key.indexed_value_type))
        have = existing.custom_attributes.get(key.name)
        if have is None:
            missing[key.name] = wanted
        elif have != wanted:
            mistyped.append(f"{key.name} is {_type_name(have)}, not {_type_name(wanted)}")
    return SearchAttributeGaps(missing, mistyped)


async def register_search_attributes(client: Client) -> list[str]:
    """Add the missing attributes and return their names; existing ones are checked only."""
    gaps = await search_attribute_gaps(client)
    if gaps.mistyped:
        raise SearchAttributeConflictError(
            f"search attribute {'; '.join(gaps.mistyped)}; remove it or use another namespace"
        )
    if gaps.missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=gaps.missing)
        )
    return sorted(gaps.missing)
