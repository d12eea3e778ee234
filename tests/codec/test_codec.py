"""The codec and its keys, without a server: round trips, rotation, and the errors' words."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from arkor_temporal.client.connection import ConnectionSettingsError, TemporalSettings
from arkor_temporal.codec import (
    ENCODING,
    ENV_KEY_ID,
    ENV_KEYS,
    ENV_KEYS_FILE,
    KEY_ID_METADATA,
    AesGcmCodec,
    CodecKeyError,
    DecryptionError,
    KeyRing,
    MissingKeyError,
    codec_from_env,
    encrypted_converter,
    new_key,
)

K1, K2 = new_key(), new_key()
SECRET = "unsloth/gemma-4-E4B-it fine-tune with loss 0.42"


def codec(env: dict[str, str]) -> AesGcmCodec:
    found = codec_from_env(env)
    assert found is not None
    return found


def plain(text: str = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_a_payload_round_trips_and_its_ciphertext_hides_the_plaintext() -> None:
    c = codec({ENV_KEYS: f"k1={K1}"})
    [sealed] = await c.encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert b"gemma" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # the inner metadata too
    [opened] = await c.decode([sealed])
    assert opened == plain()
    [again] = await c.encode([plain()])
    assert again.data != sealed.data  # a fresh nonce each time


async def test_plaintext_payloads_from_before_encryption_pass_through() -> None:
    c = codec({ENV_KEYS: f"k1={K1}"})
    assert await c.decode([plain()]) == [plain()]


async def test_rotation_encrypts_with_the_new_key_and_still_opens_the_old() -> None:
    old = codec({ENV_KEYS: f"k1={K1}"})
    [by_k1] = await old.encode([plain()])
    rotated = codec({ENV_KEYS: f"k2={K2},k1={K1}"})  # the first listed is current
    [by_k2] = await rotated.encode([plain()])
    assert by_k2.metadata[KEY_ID_METADATA] == b"k2"
    assert await rotated.decode([by_k1, by_k2]) == [plain(), plain()]
    pinned = codec({ENV_KEYS: f"k2={K2},k1={K1}", ENV_KEY_ID: "k1"})
    [pinned_payload] = await pinned.encode([plain()])
    assert pinned_payload.metadata[KEY_ID_METADATA] == b"k1"


async def test_a_missing_key_is_named_with_the_variable_that_adds_it() -> None:
    [by_k2] = await codec({ENV_KEYS: f"k2={K2}"}).encode([plain()])
    with pytest.raises(MissingKeyError) as missing:
        await codec({ENV_KEYS: f"k1={K1}"}).decode([by_k2])
    assert missing.value.key_id == "k2"
    assert "'k2'" in str(missing.value)
    assert ENV_KEYS in str(missing.value)
    assert "it has: k1" in str(missing.value)


async def test_a_changed_key_under_the_same_id_is_reported_not_garbled() -> None:
    [sealed] = await codec({ENV_KEYS: f"k1={K1}"}).encode([plain()])
    with pytest.raises(DecryptionError, match="key under that id changed"):
        await codec({ENV_KEYS: f"k1={K2}"}).decode([sealed])


def test_no_key_means_no_encryption() -> None:
    assert codec_from_env({}) is None
    assert TemporalSettings.resolve(env={}).codec is None


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({ENV_KEYS: "k1=not-base64!"}, [ENV_KEYS, "'k1'", "not base64", "openssl rand -base64 32"]),
        (
            {ENV_KEYS: "k1=" + base64.b64encode(b"x" * 16).decode()},
            [ENV_KEYS, "'k1'", "16 bytes, not 32"],
        ),
        ({ENV_KEYS: K1}, [ENV_KEYS, "id=<base64 key>", "got no id"]),
        ({ENV_KEYS: K1.rstrip("=")}, [ENV_KEYS, "id=<base64 key>", "got no id"]),
        ({ENV_KEYS: f"k1={K1},k1={K2}"}, ["'k1'", "listed twice"]),
        ({ENV_KEYS: f"bad id={K1}"}, [ENV_KEYS, "not a plain name"]),
        ({ENV_KEYS: f"k1={K1}", ENV_KEY_ID: "k9"}, [ENV_KEY_ID, "'k9'", "listed: k1"]),
        ({ENV_KEY_ID: "k1"}, [ENV_KEY_ID, ENV_KEYS, ENV_KEYS_FILE]),
        ({ENV_KEYS: f"k1={K1}", ENV_KEYS_FILE: "/x"}, [ENV_KEYS, ENV_KEYS_FILE, "keep one"]),
        ({ENV_KEYS_FILE: "/nowhere/keys"}, [ENV_KEYS_FILE, "/nowhere/keys", "cannot be read"]),
    ],
)
def test_bad_key_settings_name_the_variable_and_the_fix(
    env: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(CodecKeyError) as error:
        codec_from_env(env)
    for word in words:
        assert word in str(error.value)
    for key in (K1, K2):
        assert key.rstrip("=") not in str(error.value)
    # Through the connection settings (the CLI's exit 2), with the same words.
    with pytest.raises(ConnectionSettingsError, match="payload encryption"):
        TemporalSettings.resolve(env=env)


def test_keys_from_a_file_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\nk2={K2}\n\nk1={K1}  # old runs\n")
    found = codec({ENV_KEYS_FILE: str(path)})
    assert found.keys.ids == ("k2", "k1")
    assert found.keys.current == "k2"


def test_no_repr_shows_key_material() -> None:
    settings = TemporalSettings.resolve(env={ENV_KEYS: f"k2={K2},k1={K1}"})
    for text in (repr(settings), repr(settings.codec), str(settings.codec)):
        assert K1 not in text and K2 not in text
        assert "k2" in text
    raw = base64.b64decode(K1)
    assert repr(raw) not in repr(settings)
    assert KeyRing.parse(f"k1={K1}") == KeyRing.parse(f"k1={K1}")


async def test_failure_messages_and_details_are_encrypted_too() -> None:
    converter = encrypted_converter(codec({ENV_KEYS: f"k1={K1}"}))
    failure = Failure()
    await converter.encode_failure(
        ApplicationError("the dataset token leaked: s3cr3t", {"loss": 0.42}, type="JobFailed"),
        failure,
    )
    wire = failure.SerializeToString()
    assert b"s3cr3t" not in wire and b"loss" not in wire
    assert failure.message == "Encoded failure"
    assert failure.application_failure_info.type == "JobFailed"  # types stay readable
    back = await converter.decode_failure(failure)
    assert isinstance(back, ApplicationError)
    assert back.message == "the dataset token leaked: s3cr3t"
    assert back.details == ({"loss": 0.42},)
