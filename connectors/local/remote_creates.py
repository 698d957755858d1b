"""Creates at a provider that has no idempotency key, made at most once per engine idempotency key.

The row is written before the create is sent and completed with the provider's id after, so a retried activity
finds either the id (nothing to do) or an unfinished row: the first attempt may have created the record before it
failed, so the provider is searched for the marker the record carries (`find`) before creating again. Table
`remote_creates` (migration 0004).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.inbound import digest
from connectors.local.db import LocalDb, lock_key


def marker(idempotency_key: str) -> str:
    """The tag a created record carries (in its subject or body), so a retry can find it by searching."""
    return f"nsk{digest(idempotency_key)[:16]}"


class CreateLog:
    def __init__(self, db: LocalDb, provider: str) -> None:
        self.db, self.provider = db, provider

    def record_id(self, idempotency_key: str) -> tuple[bool, str | None]:
        """(a row exists, its record id)."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT record_id FROM remote_creates WHERE provider = ? AND idempotency_key = ?",
                               (self.provider, idempotency_key)).fetchone()
        return (row is not None, str(row[0]) if row is not None and row[0] else None)

    def _begin(self, idempotency_key: str, object_type: str) -> None:
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"remote-create:{self.provider}:{idempotency_key}")
            conn.execute("INSERT INTO remote_creates (provider, idempotency_key, object_type, record_id, created_at) "
                         "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (provider, idempotency_key) DO NOTHING",
                         (self.provider, idempotency_key, object_type, datetime.now(UTC).isoformat()))

    def _finish(self, idempotency_key: str, record_id: str) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute("UPDATE remote_creates SET record_id = ? WHERE provider = ? AND idempotency_key = ?",
                         (record_id, self.provider, idempotency_key))

    def once(self, idempotency_key: str, object_type: str, create: Callable[[], str],
             find: Callable[[], str | None]) -> str:
        """The record's id: the stored one, the one `find` sees after an unfinished attempt, or a new create."""
        started, done = self.record_id(idempotency_key)
        if done:
            return done
        if started:
            found = find()
            if found:
                self._finish(idempotency_key, found)
                return found
        else:
            self._begin(idempotency_key, object_type)
        record_id = create()
        self._finish(idempotency_key, record_id)
        return record_id
