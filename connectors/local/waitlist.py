"""SQLite waitlist: contacts waiting for an opening of one appointment type on one calendar, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from connectors.local.db import LocalDb


class WaitlistEntry(BaseModel):
    contact_id: str
    appointment_type: str
    calendar_id: str
    added_at: datetime


class LocalWaitlist:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def add(self, contact_id: str, appointment_type: str, calendar_id: str, at: datetime | None = None) -> bool:
        """Put a contact on the waitlist. Joining again keeps the original place in the queue."""
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self.db.connect() as conn:
            cur = conn.execute(
                "INSERT INTO waitlist (contact_id, appointment_type, calendar_id, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (contact_id, appointment_type, calendar_id, when),
            )
        return cur.rowcount > 0

    def remove(self, contact_id: str, appointment_type: str, calendar_id: str) -> bool:
        with self.db.connect() as conn:
            cur = conn.execute(
                "DELETE FROM waitlist WHERE contact_id = ? AND appointment_type = ? AND calendar_id = ?",
                (contact_id, appointment_type, calendar_id),
            )
        return cur.rowcount > 0

    def waiting(self, appointment_type: str, calendar_id: str, limit: int | None = None) -> list[WaitlistEntry]:
        """Oldest first; contact id breaks ties so the order is stable."""
        sql = ("SELECT contact_id, appointment_type, calendar_id, added_at FROM waitlist "
               "WHERE appointment_type = ? AND calendar_id = ? ORDER BY added_at, contact_id")
        params: tuple[object, ...] = (appointment_type, calendar_id)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        with self.db.connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [WaitlistEntry(contact_id=r[0], appointment_type=r[1], calendar_id=r[2],
                              added_at=datetime.fromisoformat(r[3])) for r in rows]

    def contact_key_for_reply(self, case_id: str, recipient: str) -> str | None:
        """Which offered contact a reply to a backfill came from: one backfill writes to many contacts, so the
        case id alone (as for a recovery case) is not enough; the sender's address picks the one."""
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT contact_key FROM outbox WHERE case_id = ? AND recipient = ? AND contact_key IS NOT NULL "
                "ORDER BY created_at DESC LIMIT 1",
                (case_id, recipient),
            ).fetchone()
        return str(row[0]) if row else None
