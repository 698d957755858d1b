"""What the webhook routes remember: deliveries already handled (so a re-delivery has no second effect), and
event types nobody handles yet (acknowledged so the provider stops retrying, and counted so a human sees them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

# Providers retry for at most about three days (Standard Webhooks ~3 d, Calendly 24 h, Twilio/SendGrid less);
# a key older than this cannot come back as a retry, only as a replay, which the signature timestamp refuses.
DEDUPE_HORIZON = timedelta(days=7)
# Providers that sign no timestamp (Twilio: https://www.twilio.com/docs/usage/security#validating-requests,
# Cal.com: https://cal.com/docs/developing/guides/automation/webhooks) leave a captured request valid for ever.
# Their retry horizons are short (Twilio retries only with connection overrides, within its 15 s request budget:
# https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides; Cal.com documents no retries), so the
# horizon here is not about retries: it is how long the engine can refuse a replay, and is set past the life of
# any case (a year and a margin). Cal.com's body carries its signed `createdAt`, refused once older than this.
UNSIGNED_TIME_HORIZON = timedelta(days=400)
PRUNE_EVERY = 1000  # remembered deliveries between prunes
# An unknown type is attacker-chosen text: keep it short and keep few of them, so counting cannot fill the disk.
MAX_TYPE_LENGTH = 100
MAX_UNKNOWN_TYPES = 500


class WebhookReceipts:
    """Webhook deliveries already handled (provider dedupe keys), so re-deliveries have no second effect."""

    def __init__(self, db: Any, horizon: timedelta = DEDUPE_HORIZON) -> None:
        self.db = db
        self.horizon = horizon
        self._since_prune = 0
        db.script("CREATE TABLE IF NOT EXISTS webhook_deliveries (key TEXT PRIMARY KEY, at TEXT NOT NULL);"
                  "CREATE INDEX IF NOT EXISTS webhook_deliveries_at ON webhook_deliveries (at);")

    def seen(self, key: str) -> bool:
        with self.db.connect() as conn:
            return conn.execute("SELECT 1 FROM webhook_deliveries WHERE key = ? UNION ALL "
                                "SELECT 1 FROM webhook_long_receipts WHERE key = ?", (key, key)).fetchone() is not None

    def digest_verdict(self, provider: str, digest: str, request_digest: str) -> str:
        """`new`, `duplicate` (the same signed content, read the same way) or `altered` (the same signed content
        read as different parameters: the signature of an accepted request reused on a re-split of it)."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT request_digest FROM webhook_signed_digests WHERE provider = ? AND digest = ?",
                               (provider, digest)).fetchone()
        if row is None:
            return "new"
        return "duplicate" if row[0] == request_digest else "altered"

    def remember(self, key: str | None, now: datetime | None = None, *, long: bool = False,
                 digests: tuple[str, str] | None = None, provider: str = "") -> None:
        """Remember a handled delivery: its dedupe key (for the unsigned-time horizon when `long`) and the
        digests of what its signature covered."""
        now = now or datetime.now(UTC)
        with self.db.connect() as conn:
            self.claim(conn, key, now, long=long, digests=digests, provider=provider)

    def claim(self, conn: Any, key: str | None, now: datetime, *, long: bool = False,
              digests: tuple[str, str] | None = None, provider: str = "") -> bool:
        """`remember` inside the caller's transaction; False when another delivery got there first (its key or
        its signed digest is already remembered), so two copies racing each other take effect once."""
        at = now.isoformat()
        new = True
        if key is not None:
            table = "webhook_long_receipts" if long else "webhook_deliveries"
            new = bool(conn.execute(f"INSERT OR IGNORE INTO {table} (key, at) VALUES (?, ?)", (key, at)).rowcount)
        if digests is not None:
            added = conn.execute("INSERT OR IGNORE INTO webhook_signed_digests (provider, digest, request_digest, at) "
                                 "VALUES (?, ?, ?, ?)", (provider, digests[0], digests[1], at)).rowcount
            new = new and bool(added)
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            self._prune_in(conn, now)
        return new

    def prune(self, now: datetime | None = None) -> int:
        """Forget keys past the retry horizon; returns how many were dropped."""
        self._since_prune = 0
        with self.db.connect() as conn:
            return self._prune_in(conn, now or datetime.now(UTC))

    def _prune_in(self, conn: Any, now: datetime) -> int:
        cutoff = (now - self.horizon).isoformat()
        long_cutoff = (now - max(self.horizon, UNSIGNED_TIME_HORIZON)).isoformat()
        dropped = int(conn.execute("DELETE FROM webhook_deliveries WHERE at < ?", (cutoff,)).rowcount)
        dropped += int(conn.execute("DELETE FROM webhook_long_receipts WHERE at < ?", (long_cutoff,)).rowcount)
        dropped += int(conn.execute("DELETE FROM webhook_signed_digests WHERE at < ?", (long_cutoff,)).rowcount)
        return dropped


class UnknownType(BaseModel):
    provider: str
    type: str
    count: int
    first_seen: datetime
    last_seen: datetime


class UnknownTypes:
    """Event types a provider sent that no connector maps: acknowledged (2xx) and counted here."""

    def __init__(self, db: Any) -> None:
        self.db = db
        db.script("CREATE TABLE IF NOT EXISTS webhook_unknown_types (provider TEXT NOT NULL, type TEXT NOT NULL, "
                  "count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, "
                  "PRIMARY KEY (provider, type));")

    def count(self, provider: str, types: list[str], now: datetime | None = None) -> None:
        at = (now or datetime.now(UTC)).isoformat()
        with self.db.connect() as conn:
            for raw in types:
                name = safe_type(raw)
                updated = conn.execute(
                    "UPDATE webhook_unknown_types SET count = count + 1, last_seen = ? WHERE provider = ? AND type = ?",
                    (at, provider, name)).rowcount
                if updated:
                    continue
                total = conn.execute("SELECT COUNT(*) FROM webhook_unknown_types").fetchone()[0]
                if total >= MAX_UNKNOWN_TYPES:
                    name = "(other)"  # past the cap every new name shares one row
                conn.execute(
                    "INSERT INTO webhook_unknown_types (provider, type, count, first_seen, last_seen) "
                    "VALUES (?, ?, 1, ?, ?) ON CONFLICT (provider, type) DO UPDATE SET "
                    "count = webhook_unknown_types.count + 1, last_seen = excluded.last_seen", (provider, name, at, at))

    def all(self) -> list[UnknownType]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT provider, type, count, first_seen, last_seen FROM webhook_unknown_types "
                                "ORDER BY count DESC, provider, type").fetchall()
        return [UnknownType(provider=r[0], type=r[1], count=r[2], first_seen=datetime.fromisoformat(r[3]),
                            last_seen=datetime.fromisoformat(r[4])) for r in rows]


def safe_type(raw: str) -> str:
    """A printable, bounded rendering of an attacker-chosen type name (no control or unpaired surrogate chars)."""
    text = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in str(raw))
    return text[:MAX_TYPE_LENGTH] or "(empty)"
