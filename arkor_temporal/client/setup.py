"""Registering the workflows' search attributes on a namespace (idempotent).

Self-hosted equivalent, one per attribute:
``temporal operator search-attribute create --name ArkorPhase --type Keyword``;
on Temporal Cloud, ``tcld namespace search-attributes add``.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from arkor_temporal.core import search_attributes as sa


class SearchAttributeConflictError(RuntimeError):
    pass


async def register_search_attributes(client: Client) -> list[str]:
    """Add the missing attributes and return their names; existing ones are checked only."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in sa.ALL:
        wanted = IndexedValueType.ValueType(int(key.indexed_value_type))
        have = existing.custom_attributes.get(key.name)
        if have is None:
            missing[key.name] = wanted
        elif have != wanted:
            raise SearchAttributeConflictError(
                f"search attribute {key.name} exists with type {IndexedValueType.Name(have)}, "
                f"expected {IndexedValueType.Name(wanted)}; remove it or use another namespace"
            )
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
