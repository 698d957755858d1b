"""The webhook hand-off: verified deliveries written down before they are acknowledged, then applied (cases
started or signalled, replies routed) by whoever holds the row's lease.

A delivery is written in the same transaction that remembers it in the receipt log, so a re-delivery racing the
first is a duplicate and a crash after the ack leaves a row another replica finishes. The API that wrote a row
usually applies it at once under a short lease (`claim_for`); if that process dies or the attempt fails, the
lease lapses and any replica's drainer takes the row. Rows are applied at least once; what they do is
idempotent (signal-with-start by case id, replies by reply id), so a second application changes nothing.
Table `webhook_intake` (migration 0005).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from connectors.local.db import Conn, LocalDb

DONE_KEPT = timedelta(days=1)  # applied rows (without their payload) stay this long, for the figures


@dataclass(frozen=True)
class NewDelivery:
    provider: str
    payload: str
    claim_for: str | None = None  # the applier holding the lease from the start
    receipt: Callable[[Conn], bool] | None = None  # False: already accepted (a duplicate), nothing is written


class IntakeItem(BaseModel):
    intake_id: str
    provider: str
    payload: str
    attempts: int


class IntakeFailure(BaseModel):
    intake_id: str
    provider: str
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime
    next_at: datetime


class IntakeStats(BaseModel):
    """What `GET /ops/intake` shows: how much is waiting, how old the oldest is, what keeps failing."""

    pending: int
    in_flight: int
    failed: int
    done_last_hour: int
    oldest_pending_seconds: float | None
    retrying: list[IntakeFailure]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class IntakeQueue:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def put(self, provider: str, payload: str, now: datetime, *, claim_for: str | None = None,
            lease: timedelta = timedelta(seconds=30), receipt: Callable[[Conn], bool] | None = None) -> str | None:
        """Write a delivery down; its id, or None when `receipt` (run in the same transaction) says the delivery
        was already accepted. With `claim_for` the caller holds the row's lease and applies it itself."""
        return self.put_many([NewDelivery(provider, payload, claim_for, receipt)], now, lease)[0]

    def put_many(self, deliveries: Sequence[NewDelivery], now: datetime,
                 lease: timedelta = timedelta(seconds=30)) -> list[str | None]:
        """`put` for many deliveries in one transaction: a burst pays for one commit, not one per delivery."""
        out: list[str | None] = []
        stamp, until = now.isoformat(), (now + lease).isoformat()
        with self.db.connect(immediate=True) as conn:
            for d in deliveries:
                if d.receipt is not None and not d.receipt(conn):
                    out.append(None)
                    continue
                intake_id = uuid.uuid4().hex
                conn.execute(
                    "INSERT INTO webhook_intake (intake_id, provider, payload, status, received_at, next_at, "
                    "claimed_by, claimed_until, attempts) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                    (intake_id, d.provider, d.payload, stamp, stamp, d.claim_for, until if d.claim_for else None,
                     1 if d.claim_for else 0))
                out.append(intake_id)
        return out

    def claim_due(self, owner: str, now: datetime, limit: int = 20,
                  lease: timedelta = timedelta(seconds=30)) -> list[IntakeItem]:
        """Up to `limit` due rows nobody holds (or whose holder's lease lapsed), oldest first, leased to `owner`."""
        stamp = now.isoformat()
        with self.db.connect(immediate=True) as conn:
            lock = " FOR UPDATE SKIP LOCKED" if conn.postgres else ""
            rows = conn.execute(
                "SELECT intake_id, provider, payload, attempts FROM webhook_intake WHERE status = 'pending' "
                "AND next_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY received_at LIMIT ?"
                + lock, (stamp, stamp, limit)).fetchall()
            for row in rows:
                conn.execute("UPDATE webhook_intake SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 "
                             "WHERE intake_id = ?", (owner, (now + lease).isoformat(), row[0]))
        return [IntakeItem(intake_id=r[0], provider=r[1], payload=r[2], attempts=int(r[3]) + 1) for r in rows]

    def finish(self, intake_id: str, now: datetime) -> None:
        self.finish_many([intake_id], now)

    def finish_many(self, intake_ids: Sequence[str], now: datetime) -> list[None]:
        """Applied: the payload (the customer's data) is dropped at once; the row stays for the figures."""
        with self.db.connect() as conn:
            for intake_id in intake_ids:
                conn.execute("UPDATE webhook_intake SET status = 'done', payload = NULL, claimed_by = NULL, "
                             "claimed_until = NULL, done_at = ? WHERE intake_id = ?", (now.isoformat(), intake_id))
        return [None for _ in intake_ids]

    def retry_later(self, intake_id: str, error_kind: str, next_at: datetime, give_up: bool = False) -> None:
        """Release the lease; the row is due again at `next_at`, or stays `failed` (kept, with its payload, for a
        person to look at) when `give_up`."""
        with self.db.connect() as conn:
            conn.execute("UPDATE webhook_intake SET status = ?, claimed_by = NULL, claimed_until = NULL, "
                         "next_at = ?, last_error = ? WHERE intake_id = ?",
                         ("failed" if give_up else "pending", next_at.isoformat(), error_kind[:80], intake_id))

    def requeue(self, intake_id: str, now: datetime) -> bool:
        """A failed row due again now (an admin's retry); False when there is no such failed row."""
        with self.db.connect() as conn:
            return bool(conn.execute("UPDATE webhook_intake SET status = 'pending', next_at = ? "
                                     "WHERE intake_id = ? AND status = 'failed'",
                                     (now.isoformat(), intake_id)).rowcount)

    def pending(self) -> int:
        with self.db.connect() as conn:
            row = conn.execute("SELECT COUNT(*) FROM webhook_intake WHERE status = 'pending'").fetchone()
        return int(row[0]) if row else 0

    def stats(self, now: datetime, limit: int = 50) -> IntakeStats:
        stamp, hour_ago = now.isoformat(), (now - timedelta(hours=1)).isoformat()
        with self.db.connect() as conn:
            counts: dict[str, int] = {str(r[0]): int(r[1]) for r in conn.execute(
                "SELECT status, COUNT(*) FROM webhook_intake GROUP BY status").fetchall()}
            in_flight = conn.execute("SELECT COUNT(*) FROM webhook_intake WHERE status = 'pending' "
                                     "AND claimed_until >= ?", (stamp,)).fetchone()
            oldest = conn.execute("SELECT MIN(received_at) FROM webhook_intake WHERE status = 'pending'").fetchone()
            done = conn.execute("SELECT COUNT(*) FROM webhook_intake WHERE status = 'done' AND done_at >= ?",
                                (hour_ago,)).fetchone()
            rows = conn.execute(
                "SELECT intake_id, provider, status, attempts, last_error, received_at, next_at FROM webhook_intake "
                "WHERE status = 'failed' OR (status = 'pending' AND last_error IS NOT NULL) "
                "ORDER BY received_at LIMIT ?", (limit,)).fetchall()
        return IntakeStats(
            pending=int(counts.get("pending", 0)), in_flight=int(in_flight[0]) if in_flight else 0,
            failed=int(counts.get("failed", 0)), done_last_hour=int(done[0]) if done else 0,
            oldest_pending_seconds=(now - _at(oldest[0])).total_seconds() if oldest and oldest[0] else None,
            retrying=[IntakeFailure(intake_id=r[0], provider=r[1], status=r[2], attempts=int(r[3]), last_error=r[4],
                                    received_at=_at(r[5]), next_at=_at(r[6])) for r in rows])

    def prune(self, now: datetime) -> int:
        with self.db.connect() as conn:
            return int(conn.execute("DELETE FROM webhook_intake WHERE status = 'done' AND done_at < ?",
                                    ((now - DONE_KEPT).isoformat(),)).rowcount)
