"""The payload codec: AES-256-GCM over each payload's serialized protobuf.

An encrypted payload has the metadata ``encoding: binary/encrypted`` and
``encryption-key-id: <id>``, and its data is a random 12-byte nonce followed by
the ciphertext and its tag (the layout of Temporal's own encryption sample, so
either can read the other's payloads given the key). Decoding passes any other
payload through unchanged, so runs from before encryption was turned on stay
readable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from arkor_temporal.codec.keys import ENV_KEYS, CodecKeyError, KeyRing, MissingKeyError

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class DecryptionError(CodecKeyError):
    """An encrypted payload that its key does not open (the key under that id changed)."""


class AesGcmCodec(PayloadCodec):
    """Encrypts with the key ring's current key; decrypts with whichever key a payload names."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys.items()}

    def __repr__(self) -> str:
        return f"AesGcmCodec({self.keys!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AesGcmCodec) and other.keys == self.keys

    __hash__ = None  # type: ignore[assignment]  # equal by value, and mutable keys

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.keys.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours: plaintext from before encryption, or another codec's
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise DecryptionError(
                f"an encrypted payload carries no {KEY_ID_METADATA}: it was not written by "
                "this codec"
            )
        key_id = raw_id.decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise MissingKeyError(key_id, self.keys.ids)
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise DecryptionError(
                f"a payload encrypted with key {key_id!r} does not open with the key listed "
                f"as {key_id!r} in {ENV_KEYS}: the key under that id changed; list the original "
                "key under it again (a new key needs a new id)"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded

    def encrypt_all(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    def decrypt_all(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encrypt_all(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decrypt_all(payloads)
