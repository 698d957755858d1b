"""Payload encryption for everything the project hands to Temporal: AES-256-GCM, key id in the metadata.

Temporal stores workflow inputs, results, signals, updates, queries and activity arguments as payloads; with
this codec on the data converter they leave our processes encrypted, so the server, its database, its
backups and anyone with namespace access see only ciphertext (names, phones, emails and replies stay ours).

Rotation: the first key of the setting encrypts; every listed key decrypts (chosen by the key id stored on
each payload). To rotate, put the new key first and keep the old one until no open case or retained history
needs it. Deleting a key makes every payload written with it unreadable (crypto-shredding).

Not covered by any codec (keep PII out of them): search attributes, memo keys, workflow ids, task queues,
activity names, and failure messages unless the failure converter encodes them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from connectors.key_spec import KEY_BYTES, KEY_ID, parse_key_spec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload that cannot be decrypted. The message names the key id, never any payload content."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not KEY_ID.match(key_id):
                raise ValueError(f"invalid key id {key_id!r}: use 1-64 letters, digits, '.', '_' or '-'")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}")
            if key_id in self._ciphers:
                raise ValueError(f"key id {key_id!r} is listed twice")
            self._ciphers[key_id] = AESGCM(key)
        self.current_key_id = keys[0][0]

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    @classmethod
    def from_setting(cls, spec: str) -> EncryptionCodec:
        """Parse "kid1:BASE64KEY,kid0:BASE64OLDKEY" (NOSHOW_ENCRYPTION_KEY). Errors never echo key material."""
        return cls(parse_key_spec(spec))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        key_id = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)  # fresh per payload: a repeated nonce under one key breaks GCM
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was turned on (or by a codec-less client): pass through
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(f"payload was encrypted with unknown key id {key_id!r}; known: {self.key_ids}")
        if len(payload.data) <= NONCE_BYTES:
            raise CodecError(f"encrypted payload (key id {key_id!r}) is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise CodecError(f"encrypted payload (key id {key_id!r}) failed authentication: "
                             "tampered with, or written with a different key under the same id") from None
        out = Payload()
        out.ParseFromString(plain)
        return out


def generate_key_spec(kid: str = "k1") -> str:
    """A fresh random key in the NOSHOW_ENCRYPTION_KEY format, e.g. "k1:3q2+7w...=". Prepend it to rotate."""
    if not KEY_ID.match(kid):
        raise ValueError(f"invalid key id {kid!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return f"{kid}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"
