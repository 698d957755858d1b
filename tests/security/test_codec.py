"""The payload encryption codec on its own: round trip, tampering, rotation, unknown keys, bad settings."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from domain.models import Contact
from workers.temporal.codec import ENCODING, KEY_ID_METADATA, CodecError, EncryptionCodec, generate_key_spec

SECRET = b'{"name":"Canary Zq7x","phone":"+12125550142"}'


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


async def test_round_trip_restores_the_payload_and_hides_the_plaintext() -> None:
    codec = EncryptionCodec.from_setting(f"k1:{key(1)}")
    original = [plain(), plain(b"second"), Payload(metadata={"encoding": b"binary/null"})]
    encoded = await codec.encode(original)
    for p in encoded:
        assert p.metadata["encoding"] == ENCODING and p.metadata[KEY_ID_METADATA] == b"k1"
        assert b"Canary" not in p.SerializeToString() and b"json/plain" not in p.SerializeToString()
    assert await codec.decode(encoded) == original


async def test_every_payload_gets_a_fresh_nonce() -> None:
    codec = EncryptionCodec.from_setting(generate_key_spec("k1"))
    encoded = await codec.encode([plain()] * 50)
    nonces = {p.data[:12] for p in encoded}
    assert len(nonces) == 50 and len({p.data for p in encoded}) == 50


@pytest.mark.parametrize("where", ["data", "nonce", "key_id", "truncate"])
async def test_tampering_is_detected_and_the_error_shows_no_content(where: str) -> None:
    codec = EncryptionCodec.from_setting(f"k1:{key(1)},k0:{key(0)}")
    [p] = await codec.encode([plain()])
    if where == "data":
        p.data = p.data[:-1] + bytes([p.data[-1] ^ 1])
    elif where == "nonce":
        p.data = bytes([p.data[0] ^ 1]) + p.data[1:]
    elif where == "key_id":  # moving a payload under another known key id is caught too (the id is authenticated)
        p.metadata[KEY_ID_METADATA] = b"k0"
    else:
        p.data = p.data[:8]
    with pytest.raises(CodecError) as err:
        await codec.decode([p])
    assert "Canary" not in str(err.value) and "555" not in str(err.value)


async def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    old = EncryptionCodec.from_setting(f"k0:{key(0)}")
    [written_before] = await old.encode([plain()])
    rotated = EncryptionCodec.from_setting(f"k1:{key(1)},k0:{key(0)}")
    assert rotated.current_key_id == "k1" and rotated.key_ids == ["k1", "k0"]
    assert await rotated.decode([written_before]) == [plain()]
    [written_after] = await rotated.encode([plain()])
    assert written_after.metadata[KEY_ID_METADATA] == b"k1"
    with pytest.raises(CodecError, match="unknown key id 'k1'"):  # the old-only codec cannot read new data
        await old.decode([written_after])


async def test_unknown_key_id_is_a_clear_error() -> None:
    writer = EncryptionCodec.from_setting(f"k9:{key(9)}")
    reader = EncryptionCodec.from_setting(f"k1:{key(1)}")
    [p] = await writer.encode([plain()])
    with pytest.raises(CodecError, match=r"unknown key id 'k9'; known: \['k1'\]"):
        await reader.decode([p])
    p.metadata.pop(KEY_ID_METADATA)
    with pytest.raises(CodecError, match="unknown key id ''"):
        await reader.decode([p])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    # histories written before the key was configured stay readable
    codec = EncryptionCodec.from_setting(generate_key_spec())
    assert await codec.decode([plain()]) == [plain()]


async def test_on_the_pydantic_data_converter_models_round_trip_encrypted() -> None:
    codec = EncryptionCodec.from_setting(generate_key_spec("k1"))
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec)
    contact = Contact(contact_id="c-1", name="Canary Zq7x", phone="+12125550142", email="zq7x@canary.example")
    [payload] = await converter.encode([contact])
    assert payload.metadata["encoding"] == ENCODING and b"Zq7x" not in payload.data
    assert await converter.decode([payload], [Contact]) == [contact]


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty"),
    (" , ", "empty"),
    (key(1), "no key id"),
    ("k1:", "no key id"),
    (":" + key(1), "no key id"),
    ("k1:not*base64!", "not valid base64"),
    ("k1:" + base64.b64encode(b"short").decode(), "is 5 bytes; AES-256 needs exactly 32"),
    ("k1:" + base64.b64encode(os.urandom(16)).decode(), "is 16 bytes"),
    (f"k1:{key(1)},k1:{key(2)}", "listed twice"),
    (f"bad id:{key(1)}", "invalid key id"),
], ids=["empty", "only-commas", "no-colon", "no-key", "no-id", "bad-base64", "5-bytes", "16-bytes", "twice",
        "bad-id"])  # named: a random key in an id would make each test worker collect a different test
def test_bad_settings_are_clear_value_errors_that_never_echo_the_key(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        EncryptionCodec.from_setting(spec)
    if len(spec) > 20:
        assert spec.split(":")[-1] not in str(err.value)


def test_generated_specs_parse_and_url_safe_keys_are_accepted() -> None:
    spec = generate_key_spec("k2026")
    codec = EncryptionCodec.from_setting(spec)
    assert codec.key_ids == ["k2026"]
    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    url_safe = base64.urlsafe_b64encode(raw).decode()
    assert "-" in url_safe or "_" in url_safe
    assert EncryptionCodec.from_setting(f"k1:{url_safe}").key_ids == ["k1"]
    with pytest.raises(ValueError, match="invalid key id"):
        generate_key_spec("has space")


async def test_encoded_failure_attributes_encrypt_failure_messages() -> None:
    # what the recommended wiring does: failure messages and stack traces are not payloads, so without this
    # they reach Temporal in plaintext whatever the codec
    codec = EncryptionCodec.from_setting(generate_key_spec("k1"))
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec,
                                    failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
    failure = Failure()
    await converter.encode_failure(ApplicationError("could not text +12125550142"), failure)
    assert b"12125550142" not in failure.SerializeToString()
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    decoded = await converter.decode_failure(failure)
    assert "+12125550142" in str(decoded)


async def test_the_project_converter_encrypts_failure_messages() -> None:
    from pydantic import SecretStr

    from workers.settings import Settings, TemporalSettings
    from workers.temporal.client import data_converter

    converter = data_converter(Settings(temporal=TemporalSettings(encryption_key=SecretStr(generate_key_spec("k1")))))
    failure = Failure()
    await converter.encode_failure(ApplicationError("could not text +12125550142"), failure)
    assert b"12125550142" not in failure.SerializeToString()
