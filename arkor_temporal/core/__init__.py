"""The neutral layer: what workflows, activities and clients share.

The run spec, event and state models, exactly-once progress, stop rules,
eval/hook/notification types and every name Temporal sees. Pure: pydantic,
``temporalio.common`` and similar only; nothing here does I/O.
"""
