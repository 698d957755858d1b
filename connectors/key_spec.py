"""The NOSHOW_ENCRYPTION_KEY format, read in one place: "kid1:BASE64KEY[,kid0:BASE64OLDKEY]", a 32-byte AES key
each, the current key first. The Temporal payload codec and the sealed token and subscription stores all parse it
here, and the settings check it at start-up, so a malformed value is refused once with the same message.

Errors name an entry by its position, never by any part of the value: a value pasted without its key id would
otherwise put the key itself into a log or a terminal."""

from __future__ import annotations

import base64
import binascii
import re

KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KEY_FORMAT = "expected 'kid:BASE64KEY[,kid:BASE64KEY...]' with a 32-byte key each (current key first)"


def parse_key_spec(spec: str) -> list[tuple[str, bytes]]:
    """(key id, key) for each entry, current first; a ValueError that never echoes the value otherwise."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise ValueError(f"the encryption key setting is empty: {KEY_FORMAT}")
    keys: list[tuple[str, bytes]] = []
    for n, item in enumerate(items, start=1):
        key_id, sep, encoded = item.partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        if not sep or not key_id or not encoded:
            raise ValueError(f"encryption key entry {n} has no key id: {KEY_FORMAT}")
        if not KEY_ID.match(key_id):
            raise ValueError(f"encryption key entry {n} has an invalid key id (use 1-64 letters, digits, '.', '_' "
                             f"or '-'): {KEY_FORMAT}")
        try:
            # accept standard and URL-safe alphabets; refuse anything else rather than skip characters
            key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"encryption key entry {n} is not valid base64: {KEY_FORMAT}") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"encryption key entry {n} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}: "
                             f"{KEY_FORMAT}")
        if key_id in (kid for kid, _ in keys):
            raise ValueError(f"encryption key entry {n} reuses a key id listed twice: {KEY_FORMAT}")
        keys.append((key_id, key))
    return keys
