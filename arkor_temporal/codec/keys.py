"""Encryption keys by id, from the environment of whoever connects (never through Temporal).

``ARKOR_TEMPORAL_CODEC_KEYS`` lists them as ``id=<base64 of 32 bytes>`` separated by
commas; ``ARKOR_TEMPORAL_CODEC_KEYS_FILE`` names a file with one ``id=<base64>`` per
line (blank lines and ``#`` comments allowed) instead. New payloads are encrypted
with the current key, ``ARKOR_TEMPORAL_CODEC_KEY_ID`` (default: the first listed);
every listed key still decrypts what it encrypted, which is how a key is rotated:
put the new key first and keep the old one in the list until no run needs it.

Key material never appears in a ``repr`` or in an error message; ids do.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_KEYS = "ARKOR_TEMPORAL_CODEC_KEYS"
ENV_KEYS_FILE = "ARKOR_TEMPORAL_CODEC_KEYS_FILE"
ENV_KEY_ID = "ARKOR_TEMPORAL_CODEC_KEY_ID"
KEY_BYTES = 32  # AES-256
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")  # shorter than any key
NEW_KEY_HINT = "generate one with `openssl rand -base64 32`"


class CodecKeyError(ValueError):
    """The encryption keys are misconfigured; the message names the variable and the fix."""


class MissingKeyError(CodecKeyError):
    """A payload was encrypted with a key this process does not have."""

    def __init__(self, key_id: str, known: tuple[str, ...]) -> None:
        self.key_id = key_id
        have = ", ".join(known) if known else "none"
        super().__init__(
            f"payload encrypted with key {key_id!r}, which this process does not have "
            f"(it has: {have}): add `{key_id}=<base64 key>` to {ENV_KEYS} "
            f"(or to the file {ENV_KEYS_FILE} names); keep old keys listed after a rotation"
        )


@dataclass(frozen=True)
class KeyRing:
    """Keys by id and the id new payloads are encrypted with."""

    current: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise CodecKeyError(
                f"{ENV_KEY_ID}={self.current!r} names no listed key (listed: "
                f"{', '.join(self.keys) or 'none'}): set it to one of them, or add that key"
            )
        for key_id, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise CodecKeyError(f"key {key_id!r} is not {KEY_BYTES} bytes: {NEW_KEY_HINT}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.keys)

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise MissingKeyError(key_id, self.ids) from None

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current!r}, ids={list(self.ids)!r})"

    @classmethod
    def parse(cls, text: str, *, current: str | None = None, source: str = ENV_KEYS) -> KeyRing:
        """Keys from ``id=base64`` entries separated by commas or newlines.

        ``source`` names where the text came from, for the error messages.
        """
        keys: dict[str, bytes] = {}
        for number, raw in enumerate(re.split(r"[,\n]", text), start=1):
            entry = raw.split("#", 1)[0].strip()  # no base64 alphabet has `#`
            if not entry:
                continue
            key_id, sep, encoded = (part.strip() for part in entry.partition("="))
            where = f"{source}, entry {number}"
            # A bare key (``<base64>=``) splits at its padding: never echo what may be a key.
            if not sep or not key_id or not encoded.strip("="):
                raise CodecKeyError(
                    f"{where}: expected `id=<base64 key>` (like `k1=...`), got no id"
                )
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise CodecKeyError(
                    f"{where}: the key id is not a plain name: use letters, digits, "
                    "`.`, `_` or `-` (at most 32)"
                )
            if key_id in keys:
                raise CodecKeyError(f"{where}: key id {key_id!r} is listed twice: keep one")
            keys[key_id] = _decode_key(encoded, key_id, where)
        if not keys:
            raise CodecKeyError(f"{source} lists no key: give `id=<base64 key>`; {NEW_KEY_HINT}")
        return cls(current=current or next(iter(keys)), keys=keys)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeyRing | None:
        """The key ring the environment configures, or None when encryption is off."""
        text, path = env.get(ENV_KEYS, "").strip(), env.get(ENV_KEYS_FILE, "").strip()
        current = env.get(ENV_KEY_ID, "").strip() or None
        if text and path:
            raise CodecKeyError(
                f"both {ENV_KEYS} and {ENV_KEYS_FILE} are set: keep one of them "
                "(the file may list several keys)"
            )
        if path:
            try:
                text = Path(path).expanduser().read_text()
            except OSError as exc:
                raise CodecKeyError(
                    f"{ENV_KEYS_FILE}={path!r} cannot be read ({exc.strerror or exc}): "
                    "point it at a file with one `id=<base64 key>` per line"
                ) from None
            return cls.parse(text, current=current, source=f"{ENV_KEYS_FILE} ({path})")
        if text:
            return cls.parse(text, current=current)
        if current:
            raise CodecKeyError(
                f"{ENV_KEY_ID} is set but no key is: list the keys in {ENV_KEYS} "
                f"(`{current}=<base64 key>`) or {ENV_KEYS_FILE}, or unset {ENV_KEY_ID}"
            )
        return None


def _decode_key(encoded: str, key_id: str, where: str) -> bytes:
    fix = f"give {KEY_BYTES} random bytes in base64 ({NEW_KEY_HINT})"
    try:
        altchars = b"-_" if ("-" in encoded or "_" in encoded) else None
        key = base64.b64decode(encoded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise CodecKeyError(f"{where}: key {key_id!r} is not base64: {fix}") from None
    if len(key) != KEY_BYTES:
        raise CodecKeyError(f"{where}: key {key_id!r} is {len(key)} bytes, not {KEY_BYTES}: {fix}")
    return key


def new_key() -> str:
    """A fresh random key, in base64 (what ``openssl rand -base64 32`` prints)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()
