"""Payload encryption: an AES-GCM payload codec, its keys, and the codec server for the UI.

Encryption is on when the environment lists keys (:mod:`arkor_temporal.codec.keys`);
:class:`arkor_temporal.client.TemporalSettings` then connects with
:func:`encrypted_converter`, so the worker, the CLI and the Python API all encrypt
and decrypt alike. The keys stay with whoever connects: Temporal sees ciphertext.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from arkor_temporal.codec.aes import ENCODING, KEY_ID_METADATA, AesGcmCodec, DecryptionError
from arkor_temporal.codec.keys import (
    ENV_KEY_ID,
    ENV_KEYS,
    ENV_KEYS_FILE,
    CodecKeyError,
    KeyRing,
    MissingKeyError,
    new_key,
)


def codec_from_env(env: Mapping[str, str]) -> AesGcmCodec | None:
    """The codec the environment configures, or None when no key is listed.

    Raises :class:`CodecKeyError` (naming the variable and the fix) for bad settings.
    """
    keys = KeyRing.from_env(env)
    return AesGcmCodec(keys) if keys else None


def encrypted_converter(codec: AesGcmCodec | None) -> DataConverter:
    """The project's data converter, with ``codec`` on every payload when given.

    Failure messages and stack traces move into the failure's encoded attributes, so
    the codec covers them too (Temporal keeps only "Encoded failure" in plaintext).
    """
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


__all__ = [
    "ENCODING",
    "ENV_KEYS",
    "ENV_KEYS_FILE",
    "ENV_KEY_ID",
    "KEY_ID_METADATA",
    "AesGcmCodec",
    "CodecKeyError",
    "DecryptionError",
    "KeyRing",
    "MissingKeyError",
    "codec_from_env",
    "encrypted_converter",
    "new_key",
]
