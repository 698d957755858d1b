"""OAuth tokens kept in the engine's database, sealed with AES-256-GCM under NOSHOW_ENCRYPTION_KEY.

A row per (provider, account): the token JSON (access token, refresh token, expiry) encrypted with the current
key (`kid:` prefix names it, so keys rotate: every listed key decrypts). `refresh` runs inside a write
transaction with `lock_key`, so two replicas that find the token stale at once refresh it once: the second reads
the token the first stored (a rotated refresh token is never lost to a race).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors.key_spec import parse_key_spec
from connectors.local.db import LocalDb, lock_key
from connectors.oauth import OAuthToken

NONCE_BYTES = 12


class TokenCipher:
    """`keys` = (key id, 32-byte key), current first. Error messages name key ids only."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("sealing tokens needs at least one key")
        for kid, key in keys:
            if len(key) != 32 or not kid or ":" in kid:
                raise ValueError(f"token key {kid!r} must be a 32-byte AES key with a key id")
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current = keys[0][0]

    @classmethod
    def from_setting(cls, spec: str) -> TokenCipher:
        """The NOSHOW_ENCRYPTION_KEY format: "kid:BASE64KEY[,oldkid:BASE64KEY]"."""
        return cls(parse_key_spec(spec))

    def seal(self, plain: bytes, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current].encrypt(nonce, plain, context.encode())
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, text: str, context: str) -> bytes:
        kid, _, encoded = text.partition(":")
        cipher = self._keys.get(kid)
        if cipher is None:
            raise ValueError(f"token sealed with unknown key id {kid!r}")
        raw = base64.b64decode(encoded)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise ValueError(f"token sealed with key id {kid!r} failed authentication") from None


class SqlTokenStore:
    """contract for `connectors.oauth.TokenManager`: read, and refresh under a per-credential lock."""

    def __init__(self, db: LocalDb, cipher: TokenCipher) -> None:
        self.db, self.cipher = db, cipher

    @staticmethod
    def _context(provider: str, account: str) -> str:
        return f"oauth:{provider}:{account}"  # binds a sealed row to its credential: rows cannot be swapped

    def _read(self, conn: object, provider: str, account: str) -> OAuthToken | None:
        row = conn.execute("SELECT sealed FROM oauth_tokens WHERE provider = ? AND account = ?",  # type: ignore[attr-defined]
                           (provider, account)).fetchone()
        if row is None:
            return None
        return OAuthToken.model_validate(json.loads(self.cipher.open(row["sealed"], self._context(provider, account))))

    def get(self, provider: str, account: str) -> OAuthToken | None:
        with self.db.connect() as conn:
            return self._read(conn, provider, account)

    def put(self, provider: str, account: str, token: OAuthToken) -> None:
        with self.db.connect(immediate=True) as conn:
            self._write(conn, provider, account, token)

    def _write(self, conn: object, provider: str, account: str, token: OAuthToken) -> None:
        sealed = self.cipher.seal(token.model_dump_json().encode(), self._context(provider, account))
        conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO oauth_tokens (provider, account, sealed, expires_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (provider, account) DO UPDATE SET sealed = excluded.sealed, "
            "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            (provider, account, sealed, token.expires_at.astimezone(UTC).isoformat(), datetime.now(UTC).isoformat()))

    def refresh(self, provider: str, account: str, still_fresh: Callable[[OAuthToken], bool],
                fetch: Callable[[OAuthToken | None], OAuthToken]) -> OAuthToken:
        """Under the credential's lock: the stored token when another replica refreshed it meanwhile, else
        `fetch(stored)` (the token endpoint call), stored before the lock is released."""
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"oauth:{provider}:{account}")
            current = self._read(conn, provider, account)
            if current is not None and still_fresh(current):
                return current
            fresh = fetch(current)
            self._write(conn, provider, account, fresh)
            return fresh
