"""Web Push subscriptions per contact, sealed (migration 0009 says why). A subscription the push service answers
404 or 410 for is gone for good and is removed (https://www.rfc-editor.org/rfc/rfc8030#section-7.3)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from connectors.local.db import LocalDb
from connectors.local.oauth_tokens import TokenCipher


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p256dh: str = Field(min_length=80, max_length=120, pattern=r"^[A-Za-z0-9_\-]+=*$")  # P-256 point, base64url
    auth: str = Field(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_\-]+=*$")  # 16 bytes, base64url


class PushSubscription(BaseModel):
    """What the browser's `PushManager.subscribe()` returns (`subscription.toJSON()`)."""

    model_config = ConfigDict(extra="ignore")

    endpoint: HttpUrl
    keys: PushKeys

    def as_pywebpush(self) -> dict[str, Any]:
        return {"endpoint": str(self.endpoint), "keys": {"p256dh": self.keys.p256dh, "auth": self.keys.auth}}


def subscription_id(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


class PushSubscriptions:
    def __init__(self, db: LocalDb, cipher: TokenCipher) -> None:
        self.db = db
        self.cipher = cipher

    def add(self, contact_key: str, subscription: PushSubscription, at: datetime | None = None) -> str:
        """Store (or move to this contact) a subscription; its id."""
        endpoint = str(subscription.endpoint)
        sid = subscription_id(endpoint)
        sealed = self.cipher.seal(json.dumps(subscription.as_pywebpush()).encode(), f"push:{sid}")
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            conn.execute("INSERT INTO push_subscriptions (subscription_id, contact_key, sealed, created_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (subscription_id) DO UPDATE SET "
                         "contact_key = excluded.contact_key, sealed = excluded.sealed",
                         (sid, contact_key, sealed, when))
        return sid

    def for_contact(self, contact_key: str) -> list[tuple[str, PushSubscription]]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT subscription_id, sealed FROM push_subscriptions WHERE contact_key = ? "
                                "ORDER BY created_at DESC, subscription_id", (contact_key,)).fetchall()
        return [(str(r[0]), PushSubscription.model_validate_json(self.cipher.open(str(r[1]), f"push:{r[0]}")))
                for r in rows]

    def has_any(self, contact_key: str) -> bool:
        with self.db.connect() as conn:
            return conn.execute("SELECT 1 FROM push_subscriptions WHERE contact_key = ? LIMIT 1",
                                (contact_key,)).fetchone() is not None

    def remove(self, subscription_id: str) -> None:
        with self.db.connect() as conn:
            conn.execute("DELETE FROM push_subscriptions WHERE subscription_id = ?", (subscription_id,))

    def sealed_counts(self) -> tuple[int, int]:
        """(stored, unreadable): how many subscriptions there are and how many do not open under the current
        keys (NOSHOW_ENCRYPTION_KEY rotated without keeping the old key), for `noshow connectors check --live`."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT subscription_id, sealed FROM push_subscriptions").fetchall()
        unreadable = 0
        for row in rows:
            try:
                PushSubscription.model_validate_json(self.cipher.open(str(row[1]), f"push:{row[0]}"))
            except Exception:  # a wrong key or a damaged row: counted, never shown
                unreadable += 1
        return len(rows), unreadable
