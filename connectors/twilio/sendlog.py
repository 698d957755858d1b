"""A local record of outbound sends, keyed by our message id, shared by the messaging connectors.

Twilio's Messages API and SendGrid's Mail Send have no idempotency key, and Slack's chat.postMessage neither.
A retried activity therefore has to know what the first attempt did: `begin` is written before the request
leaves, `accept` once the provider returned its id. A record still `pending` on the next attempt means the
first one ended ambiguously (timeout, connection reset): the connector must look before it sends again.

The in-memory log only covers retries inside one worker process; workers use `SqlSendLog` in the engine's
database (or a SQLite file of its own) so a retry on a restarted worker, or on another host, still sees the
first attempt. Neither stores PII: message ids and
provider ids only.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from connectors.contract import SendReceipt
from connectors.local.db import Conn, LocalDb

SendState = Literal["pending", "accepted", "failed"]


class SendRecord(BaseModel):
    scope: str  # provider name: "twilio", "sendgrid", "slack"
    message_id: str
    state: SendState
    started_at: datetime  # first attempt: the lower bound of a lookup window
    provider_message_id: str | None = None
    status: str | None = None
    extra: str | None = None  # provider detail a retry needs (e.g. Slack channel)


class SendLog(Protocol):
    def get(self, scope: str, message_id: str) -> SendRecord | None: ...

    def begin(self, scope: str, message_id: str, now: datetime) -> SendRecord:
        """Mark an attempt as started; keeps the first `started_at` of an earlier pending attempt."""
        ...

    def accept(self, scope: str, message_id: str, provider_message_id: str, status: str,
               extra: str | None = None) -> SendRecord: ...

    def fail(self, scope: str, message_id: str) -> None:
        """The provider refused the request outright: nothing was sent, a later attempt may send."""
        ...


def first_receipt(log: SendLog, scope: str, message_id: str, status: str = "queued") -> SendReceipt | None:
    """The receipt of an earlier accepted send of `message_id`, for a retried activity (None: not accepted yet)."""
    row = log.get(scope, message_id)
    if row is None or row.state != "accepted" or not row.provider_message_id:
        return None
    return SendReceipt(message_id=message_id, provider_message_id=row.provider_message_id,
                       status=row.status or status, duplicate=True)


class MemorySendLog:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], SendRecord] = {}
        self._lock = threading.Lock()

    def get(self, scope: str, message_id: str) -> SendRecord | None:
        with self._lock:
            row = self._rows.get((scope, message_id))
            return row.model_copy() if row else None

    def begin(self, scope: str, message_id: str, now: datetime) -> SendRecord:
        with self._lock:
            row = self._rows.get((scope, message_id))
            started = row.started_at if row and row.state == "pending" else now
            new = SendRecord(scope=scope, message_id=message_id, state="pending", started_at=started)
            self._rows[(scope, message_id)] = new
            return new.model_copy()

    def accept(self, scope: str, message_id: str, provider_message_id: str, status: str,
               extra: str | None = None) -> SendRecord:
        with self._lock:
            row = self._rows.get((scope, message_id))
            started = row.started_at if row else datetime.now(UTC)
            new = SendRecord(scope=scope, message_id=message_id, state="accepted", started_at=started,
                             provider_message_id=provider_message_id, status=status, extra=extra)
            self._rows[(scope, message_id)] = new
            return new.model_copy()

    def fail(self, scope: str, message_id: str) -> None:
        with self._lock:
            row = self._rows.get((scope, message_id))
            if row and row.state != "accepted":
                self._rows[(scope, message_id)] = row.model_copy(update={"state": "failed"})


class SqlSendLog:
    """The same log in the engine's database (`send_log`), shared by every thread, worker process and host that
    uses that database. Takes the store itself or a SQLite file path (a log of its own)."""

    def __init__(self, db: LocalDb | str | Path) -> None:
        self.db = db if isinstance(db, LocalDb) else LocalDb(db)

    def get(self, scope: str, message_id: str) -> SendRecord | None:
        with self.db.connect() as conn:
            return self._get(conn, scope, message_id)

    @staticmethod
    def _get(conn: Conn, scope: str, message_id: str) -> SendRecord | None:
        row = conn.execute(
            "SELECT state, started_at, provider_message_id, status, extra FROM send_log "
            "WHERE scope = ? AND message_id = ?", (scope, message_id),
        ).fetchone()
        if not row:
            return None
        return SendRecord(scope=scope, message_id=message_id, state=row[0], started_at=datetime.fromisoformat(row[1]),
                          provider_message_id=row[2], status=row[3], extra=row[4])

    def begin(self, scope: str, message_id: str, now: datetime) -> SendRecord:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO send_log (scope, message_id, state, started_at) VALUES (?, ?, 'pending', ?) "
                "ON CONFLICT (scope, message_id) DO UPDATE SET "
                "started_at = CASE WHEN send_log.state = 'pending' THEN send_log.started_at "
                "ELSE excluded.started_at END, state = 'pending'",
                (scope, message_id, now.astimezone(UTC).isoformat()),
            )
            row = self._get(conn, scope, message_id)
        assert row is not None
        return row

    def accept(self, scope: str, message_id: str, provider_message_id: str, status: str,
               extra: str | None = None) -> SendRecord:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO send_log (scope, message_id, state, started_at, provider_message_id, status, extra) "
                "VALUES (?, ?, 'accepted', ?, ?, ?, ?) ON CONFLICT (scope, message_id) DO UPDATE SET "
                "state = 'accepted', provider_message_id = excluded.provider_message_id, "
                "status = excluded.status, extra = excluded.extra",
                (scope, message_id, datetime.now(UTC).isoformat(), provider_message_id, status, extra),
            )
            row = self._get(conn, scope, message_id)
        assert row is not None
        return row

    def fail(self, scope: str, message_id: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "UPDATE send_log SET state = 'failed' WHERE scope = ? AND message_id = ? AND state != 'accepted'",
                (scope, message_id),
            )


SqliteSendLog = SqlSendLog  # the earlier name: a SQLite file path still works
