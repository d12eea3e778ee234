"""One scan for secrets over everything a run leaves where people and tools can read it.

DESIGN.md: secrets never enter workflow inputs, results, state, memos, search
attributes or logs. :func:`run_texts` gathers what Temporal keeps of a run (the
history, with its inputs, results and failures; the memo; the search
attributes; the Web UI's summary and details; every payload decoded, not left
as base64), :func:`worker_log_texts` what
the test's worker processes wrote, and :func:`assert_no_secret` looks for every
secret in every one of them, naming where each one leaked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowHistory

from tests.support.workers import worker_logs

# Temporal's built-in query behind the Web UI's "current details".
METADATA_QUERY = "__temporal_workflow_metadata"


def _payload_texts(message: Message) -> Iterator[str]:
    """The decoded data of every payload in ``message``, at any depth."""
    if isinstance(message, Payload):
        yield message.data.decode(errors="replace")
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            values = [value]
        elif field.message_type.GetOptions().map_entry:
            values = list(value.values())
        else:
            values = list(value)  # a repeated field
        for inner in values:
            if isinstance(inner, Message):
                yield from _payload_texts(inner)


def history_text(history: WorkflowHistory) -> str:
    """The history as JSON *and* every payload in it decoded.

    Inputs, results, signals, heartbeat details, failure details and the Web UI's
    summary and details are payloads, which the JSON shows only as base64: a scan of
    the JSON alone would never find a secret in them.
    """
    decoded = [text for event in history.events for text in _payload_texts(event)]
    return "\n".join([history.to_json(), *decoded])


async def run_texts(handle: WorkflowHandle[Any, Any], *, live: bool = False) -> dict[str, str]:
    """What Temporal keeps of the run, by where it is shown.

    ``live`` also asks for the Web UI's current details, which needs a worker to answer.
    """
    description = await handle.describe()
    texts = {
        "history": history_text(await handle.fetch_history()),
        "memo": str(await description.memo()),
        "search attributes": str(description.typed_search_attributes),
        "Web UI summary": str(await description.static_summary()),
        "Web UI details": str(await description.static_details()),
    }
    if live:
        metadata = await handle.query(METADATA_QUERY, result_type=WorkflowMetadata)
        texts["Web UI current details"] = metadata.current_details
    return texts


def worker_log_texts(*, mentioning: str) -> dict[str, str]:
    """The logs of the worker processes the running test started, by file name.

    Each must be non-empty and one must mention ``mentioning`` (say, the run's
    workflow id): a scan of a log that never saw the run proves nothing.
    """
    texts = {
        f"worker log {path.name}": path.read_text(errors="replace") for path in worker_logs.paths
    }
    assert texts, "the test started no worker process, so there is no worker log to scan"
    empty = [where for where, text in texts.items() if not text.strip()]
    assert not empty, f"empty worker logs prove nothing: {empty}"
    assert any(mentioning in text for text in texts.values()), (
        f"no worker log mentions {mentioning!r}: the scan would prove nothing"
    )
    return texts


def assert_no_secret(secrets: Iterable[str], texts: Mapping[str, str]) -> None:
    """Fail naming each (secret, place) where a secret appears in one of ``texts``."""
    wanted = list(secrets)
    assert wanted and all(wanted), f"an empty secret is in every text: {wanted!r}"
    assert texts, "nothing to scan"
    leaks = [
        f"{secret!r} in the {where} (at {text.index(secret)} of {len(text)} characters)"
        for secret in wanted
        for where, text in texts.items()
        if secret in text
    ]
    assert not leaks, "secrets leaked: " + "; ".join(leaks)
