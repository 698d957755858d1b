"""SQLite calendar: owners, availability, bookings and holds. Booking is atomic and cannot double-book."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from connectors.contract import BusyInterval, SlotUnavailable
from connectors.local.db import LocalDb
from domain.models import Slot


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class LocalCalendar:
    def __init__(self, db: LocalDb, buffer_minutes: int = 0) -> None:
        self.db = db
        self.buffer = timedelta(minutes=buffer_minutes)

    def add_owner(self, owner_id: str, display_name: str, calendar_id: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO owners (owner_id, display_name, calendar_id) VALUES (?, ?, ?)",
                (owner_id, display_name, calendar_id),
            )

    def add_appointment(
        self, appointment_id: str, calendar_id: str, owner_id: str | None, contact_id: str | None,
        appointment_type: str, start: datetime, end: datetime, value: float = 0.0, status: str = "booked",
    ) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO appointments (appointment_id, calendar_id, owner_id, contact_id, "
                "appointment_type, start_at, end_at, status, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (appointment_id, calendar_id, owner_id, contact_id, appointment_type, _iso(start), _iso(end),
                 status, value),
            )

    def set_status(self, appointment_id: str, status: str) -> None:
        with self.db.connect() as conn:
            conn.execute("UPDATE appointments SET status = ? WHERE appointment_id = ?", (status, appointment_id))

    def appointment(self, appointment_id: str) -> dict[str, object] | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM appointments WHERE appointment_id = ?", (appointment_id,)).fetchone()
        return dict(row) if row else None

    def busy(self, calendar_id: str, start: datetime, end: datetime, exclude_case: str | None = None
             ) -> list[BusyInterval]:
        now = _iso(datetime.now(UTC))
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT start_at, end_at FROM appointments WHERE calendar_id = ? AND status = 'booked' "
                "AND start_at < ? AND end_at > ? "
                "UNION ALL SELECT start_at, end_at FROM holds WHERE calendar_id = ? AND expires_at > ? "
                "AND case_id != ? AND start_at < ? AND end_at > ?",
                (calendar_id, _iso(end), _iso(start), calendar_id, now, exclude_case or "", _iso(end), _iso(start)),
            ).fetchall()
        return [BusyInterval(start=datetime.fromisoformat(r[0]), end=datetime.fromisoformat(r[1])) for r in rows]

    def _conflicts(self, conn: object, slot: Slot, case_id: str, now: datetime) -> int:
        start, end = slot.start - self.buffer, slot.end + self.buffer
        row = conn.execute(  # type: ignore[attr-defined]
            "SELECT (SELECT COUNT(*) FROM appointments WHERE calendar_id = ? AND status = 'booked' "
            "AND start_at < ? AND end_at > ?) + (SELECT COUNT(*) FROM holds WHERE calendar_id = ? "
            "AND case_id != ? AND expires_at > ? AND start_at < ? AND end_at > ?)",
            (slot.calendar_id, _iso(end), _iso(start), slot.calendar_id, case_id, _iso(now), _iso(end),
             _iso(start)),
        ).fetchone()
        return int(row[0])

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        with self.db.connect(immediate=True) as conn:
            if self._conflicts(conn, slot, case_id, datetime.now(UTC)):
                raise SlotUnavailable("slot is no longer free")
            hold_id = f"hold-{uuid.uuid4().hex[:16]}"
            conn.execute(
                "INSERT INTO holds (hold_id, calendar_id, start_at, end_at, case_id, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (hold_id, slot.calendar_id, _iso(slot.start), _iso(slot.end), case_id, _iso(expires_at)),
            )
        return slot.model_copy(update={"hold_id": hold_id})

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        # BEGIN IMMEDIATE takes the write lock first, so check-then-insert cannot interleave with another booking.
        with self.db.connect(immediate=True) as conn:
            existing = conn.execute(
                "SELECT appointment_id FROM appointments WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if existing:
                return str(existing[0])
            if self._conflicts(conn, slot, case_id, datetime.now(UTC)):
                raise SlotUnavailable("slot was taken")
            owner = conn.execute("SELECT owner_id FROM owners WHERE calendar_id = ?", (slot.calendar_id,)).fetchone()
            appointment_id = f"appt-{uuid.uuid4().hex[:16]}"
            conn.execute(
                "INSERT INTO appointments (appointment_id, calendar_id, owner_id, contact_id, appointment_type, "
                "start_at, end_at, status, case_id, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?)",
                (appointment_id, slot.calendar_id, slot.owner_id or (owner[0] if owner else None), contact_id,
                 appointment_type, _iso(slot.start), _iso(slot.end), case_id, idempotency_key),
            )
            conn.execute("DELETE FROM holds WHERE case_id = ?", (case_id,))
        return appointment_id

    def release(self, case_id: str) -> None:
        with self.db.connect() as conn:
            conn.execute("DELETE FROM holds WHERE case_id = ?", (case_id,))

    def attendance(self, appointment_id: str) -> list[dict[str, object]]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT kind, value, joined, minutes, participant, source, at FROM attendance_signals "
                "WHERE appointment_id = ?",
                (appointment_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def add_signal(self, appointment_id: str, kind: str, at: datetime, source: str = "local",
                   value: str | None = None, joined: bool | None = None, minutes: float | None = None,
                   participant: str = "any") -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO attendance_signals (appointment_id, kind, value, joined, minutes, participant, "
                "source, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (appointment_id, kind, value, None if joined is None else int(joined), minutes, participant,
                 source, _iso(at)),
            )
