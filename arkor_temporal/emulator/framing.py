"""How a job's event stream is written on the wire: hostile, but always legal SSE.

docs/protocol.md §3.1 and §14.12 allow all of this, so by default the emulator
does all of it: a UTF-8 byte-order mark at the start of every response, CRLF
line endings, comment lines and ``retry:`` fields (between and inside frames),
and each frame cut into several writes at awkward byte offsets (inside the
BOM, between CR and LF, inside a multi-byte UTF-8 character). The job config's
``emulator.framing`` turns each one off; ``"plain"`` turns them all off.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BOM = "\ufeff".encode()
NEWLINES = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
# The last comment carries a two-byte character: a cut may land inside it in any frame.
COMMENTS = (": keepalive", ":", ": keepalive \u00b7")
RETRY = "retry: 3000"
COMMENT_CHANCE = 0.3
RETRY_CHANCE = 0.1
CR, LF = 0x0D, 0x0A

Frame = Sequence[str]
"""One SSE frame as its field lines, without the blank line that ends it."""


class Framing(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    bom: bool = True
    line_ending: Literal["lf", "crlf", "cr"] = Field("crlf", alias="lineEnding")
    comments: bool = True
    retry: bool = True
    split_writes: bool = Field(True, alias="splitWrites")


PLAIN = Framing(bom=False, line_ending="lf", comments=False, retry=False, split_writes=False)


class FrameWriter:
    """Turns the frames of one stream response into its writes (a seeded RNG per response)."""

    def __init__(self, framing: Framing, seed: int) -> None:
        self._framing = framing
        self._newline = NEWLINES[framing.line_ending]
        self._rng = random.Random(seed)

    def preamble(self) -> list[bytes]:
        """What a response starts with, before any frame (nothing with ``PLAIN``)."""
        framing = self._framing
        lines = [RETRY] if framing.retry else []
        lines += [COMMENTS[0]] if framing.comments else []
        text = self._render(lines) if lines else b""
        return self._cut((BOM if framing.bom else b"") + text)

    def writes(self, frame: Frame) -> list[bytes]:
        return self._cut(self._render(self._decorate(frame)))

    def _decorate(self, frame: Frame) -> list[str]:
        """The frame with a comment or a ``retry:`` line slipped in now and then."""
        lines = list(frame)
        rng = self._rng
        if self._framing.comments and rng.random() < COMMENT_CHANCE:
            lines.insert(rng.randint(0, len(lines)), rng.choice(COMMENTS))
        if self._framing.retry and rng.random() < RETRY_CHANCE:
            lines.insert(rng.randint(0, len(lines)), RETRY)
        return lines

    def _render(self, lines: Sequence[str]) -> bytes:
        return "".join(line + self._newline for line in [*lines, ""]).encode()

    def _cut(self, data: bytes) -> list[bytes]:
        """``data`` as one write, or cut at up to three awkward offsets."""
        if not (self._framing.split_writes and len(data) > 1):
            return [data] if data else []
        inside_char = [i for i in range(1, len(data)) if 0x80 <= data[i] < 0xC0]
        inside_crlf = [i for i in range(1, len(data)) if data[i - 1] == CR and data[i] == LF]
        rng = self._rng
        cuts = {rng.randrange(1, len(data))}
        cuts.update(rng.choice(offsets) for offsets in (inside_char, inside_crlf) if offsets)
        bounds = [0, *sorted(cuts), len(data)]
        return [data[a:b] for a, b in pairwise(bounds)]
