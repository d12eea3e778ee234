"""Decoding a `text/event-stream` body, as the SSE specification interprets one.

docs/protocol.md §3.1 and §14.12: the stream is UTF-8 whatever the headers say, a
leading byte-order mark is dropped, lines end with CRLF, LF or a lone CR, comment
lines and `retry:` are ignored, and bytes may arrive cut anywhere (inside a
multi-byte character, between CR and LF). httpx-sse gets two of these wrong: it
keeps the BOM (the first field name, often `id`, then goes unrecognised and the
first event loses its resume id), and it holds back a line-ending CR until more
bytes arrive, so with CR-only endings a live event waits for the next write. So
the lines are split here; httpx-sse only lends its `ServerSentEvent` type.
"""

from __future__ import annotations

import codecs
import re

from httpx_sse import ServerSentEvent

__all__ = ["SSEDecoder"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEDecoder:
    """Body chunks in, dispatched events out; one decoder per response."""

    def __init__(self) -> None:
        # "utf-8-sig" drops one leading BOM, even one cut across chunks; bad bytes become U+FFFD.
        self._text = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._partial_line = ""
        self._after_cr = False  # the last chunk ended with CR: an LF opening the next is its pair
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""  # kept across events, as the specification's last event ID buffer

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._text.decode(chunk)
        if not text:
            return []
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = text.endswith("\r")
        lines = _LINE_BREAK.split(self._partial_line + text)
        self._partial_line = lines.pop()
        return [event for line in lines if (event := self._line(line)) is not None]

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        # `retry:` and unknown fields are ignored: reconnect timing is docs/protocol.md §3.5's.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        """The frame a blank line ends; none when it had no `data:` line."""
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event=event, data="\n".join(data), id=self._last_id)
