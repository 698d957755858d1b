"""The engine's calendar: owners, availability, every booking it knows of, and holds.

Busy time is every live booking in `appointments` (the engine's own, and those learned from signed webhooks and
reconciliation through `record_event`) plus other cases' live holds. A hold is a row the database keeps unique
per calendar and slot start (`holds_slot`), and the engine's own bookings are unique per calendar and slot start
while booked (`appointments_engine_slot`). Checking for overlaps (with the program's buffers) and writing the
row happen in one transaction under the calendar's lock (`BEGIN IMMEDIATE` on SQLite, an advisory lock per
calendar on Postgres), so two workers can neither hold nor book overlapping times.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog

from connectors.contract import BusyInterval, SlotUnavailable
from connectors.local.db import Conn, IntegrityError, LocalDb, lock_key
from domain.models import AppointmentEvent, EventType, Slot

log = structlog.get_logger(__name__)

# what an event says about the time its appointment occupies
STATUS_BY_EVENT: dict[EventType, str] = {
    EventType.cancelled: "cancelled",
    EventType.attended: "attended",
    EventType.no_show: "no_show",
}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _minutes(delta: timedelta) -> int:
    return max(int(delta.total_seconds() // 60), 0)


class LocalCalendar:
    def __init__(self, db: LocalDb, buffer_minutes: int = 0) -> None:
        self.db = db
        self.buffer = timedelta(minutes=buffer_minutes)

    def add_owner(self, owner_id: str, display_name: str, calendar_id: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO owners (owner_id, display_name, calendar_id) VALUES (?, ?, ?) ON CONFLICT (owner_id) "
                "DO UPDATE SET display_name = excluded.display_name, calendar_id = excluded.calendar_id",
                (owner_id, display_name, calendar_id),
            )

    def add_appointment(
        self, appointment_id: str, calendar_id: str, owner_id: str | None, contact_id: str | None,
        appointment_type: str, start: datetime, end: datetime, value: float = 0.0, status: str = "booked",
    ) -> None:
        """Seed a booking (demo, imports): the row as given, replacing an earlier one with that id."""
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO appointments (appointment_id, calendar_id, owner_id, contact_id, appointment_type, "
                "start_at, end_at, status, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (appointment_id) "
                "DO UPDATE SET calendar_id = excluded.calendar_id, owner_id = excluded.owner_id, "
                "contact_id = excluded.contact_id, appointment_type = excluded.appointment_type, "
                "start_at = excluded.start_at, end_at = excluded.end_at, status = excluded.status, "
                "value = excluded.value, case_id = NULL, idempotency_key = NULL, source = NULL, event_at = NULL",
                (appointment_id, calendar_id, owner_id, contact_id, appointment_type, _iso(start), _iso(end),
                 status, value),
            )

    def record_event(self, event: AppointmentEvent) -> bool:
        """A booking the engine heard of (a signed webhook, reconciliation): its time becomes busy, or free again
        when it was cancelled. An event older than the last one applied to that booking changes nothing, and a
        booking the engine made is left to the engine. False when nothing was recorded."""
        appt = event.appointment
        start, end = appt.start, appt.end
        if event.type == EventType.rescheduled and event.new_start is not None:
            end = event.new_end or event.new_start + (appt.end - appt.start)
            start = event.new_start
        if not appt.calendar_id or end <= start:
            return False
        status = STATUS_BY_EVENT.get(event.type, "booked")
        try:
            with self.db.connect(immediate=True) as conn:
                lock_key(conn, f"calendar:{appt.calendar_id}")
                cur = conn.execute(
                    "INSERT INTO appointments (appointment_id, calendar_id, owner_id, contact_id, appointment_type, "
                    "start_at, end_at, status, value, source, event_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (appointment_id) DO UPDATE SET calendar_id = excluded.calendar_id, "
                    "owner_id = COALESCE(excluded.owner_id, appointments.owner_id), "
                    "start_at = excluded.start_at, end_at = excluded.end_at, status = excluded.status, "
                    "source = excluded.source, event_at = excluded.event_at "
                    # the engine's own bookings change only through its booking and cancelling paths
                    "WHERE appointments.case_id IS NULL "
                    "AND (appointments.event_at IS NULL OR appointments.event_at <= excluded.event_at)",
                    (appt.appointment_id, appt.calendar_id, appt.owner_id, appt.contact.contact_id,
                     appt.appointment_type, _iso(start), _iso(end), status, appt.value, appt.source,
                     _iso(event.occurred_at)),
                )
        except IntegrityError:  # an id reused by another source's booking: keep what is known
            log.warning("known_booking_not_recorded", source=appt.source)
            return False
        return cur.rowcount > 0

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

    def _conflicts(self, conn: Conn, slot: Slot, case_id: str, now: datetime, before: timedelta,
                   after: timedelta) -> int:
        """Bookings and other cases' live holds that touch the slot once its prep and buffer are added; a hold
        also keeps its own program's buffer around it."""
        start, end = slot.start - before, slot.end + after
        row = conn.execute(
            "SELECT COUNT(*) FROM appointments WHERE calendar_id = ? AND status = 'booked' AND start_at < ? "
            "AND end_at > ?", (slot.calendar_id, _iso(end), _iso(start))).fetchone()
        booked = int(row[0]) if row else 0
        reach = timedelta(days=1)  # no buffer is longer than a day
        holds = conn.execute(
            "SELECT start_at, end_at, pad_before_minutes, pad_after_minutes FROM holds WHERE calendar_id = ? "
            "AND case_id != ? AND expires_at > ? AND start_at < ? AND end_at > ?",
            (slot.calendar_id, case_id, _iso(now), _iso(end + reach), _iso(start - reach))).fetchall()
        held = sum(1 for h in holds
                   if datetime.fromisoformat(h[0]) - timedelta(minutes=int(h[2])) < end
                   and datetime.fromisoformat(h[1]) + timedelta(minutes=int(h[3])) > start)
        return booked + held

    def hold(self, slot: Slot, case_id: str, expires_at: datetime, before: timedelta | None = None,
             after: timedelta | None = None) -> Slot:
        """Hold `slot` for `case_id` until `expires_at`. `before` / `after`: the program's prep and buffer around
        it (default: the calendar's buffer), checked now and again when the hold is booked."""
        before = self.buffer if before is None else before
        after = self.buffer if after is None else after
        now = datetime.now(UTC)
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"calendar:{slot.calendar_id}")
            # an expired hold gives its slot back (the unique key would otherwise keep it)
            conn.execute("DELETE FROM holds WHERE calendar_id = ? AND start_at = ? AND expires_at <= ?",
                         (slot.calendar_id, _iso(slot.start), _iso(now)))
            if self._conflicts(conn, slot, case_id, now, before, after):
                raise SlotUnavailable("slot is no longer free")
            hold_id = f"hold-{uuid.uuid4().hex[:16]}"
            cur = conn.execute(
                "INSERT INTO holds (hold_id, calendar_id, start_at, end_at, case_id, expires_at, pad_before_minutes, "
                "pad_after_minutes) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (hold_id, slot.calendar_id, _iso(slot.start), _iso(slot.end), case_id, _iso(expires_at),
                 _minutes(before), _minutes(after)),
            )
            if cur.rowcount == 0:
                # this case already holds this very slot (a retry that did not release first): extend that hold
                mine = conn.execute("SELECT hold_id FROM holds WHERE calendar_id = ? AND start_at = ? AND case_id = ?",
                                    (slot.calendar_id, _iso(slot.start), case_id)).fetchone()
                if mine is None:
                    raise SlotUnavailable("slot is held for another case")
                hold_id = str(mine[0])
                conn.execute("UPDATE holds SET expires_at = ?, end_at = ?, pad_before_minutes = ?, "
                             "pad_after_minutes = ? WHERE hold_id = ?",
                             (_iso(expires_at), _iso(slot.end), _minutes(before), _minutes(after), hold_id))
        return slot.model_copy(update={"hold_id": hold_id})

    def _pads(self, conn: Conn, slot: Slot, case_id: str) -> tuple[timedelta, timedelta]:
        """The prep and buffer the case's hold of this slot was taken with; the calendar's buffer without one."""
        row = conn.execute("SELECT pad_before_minutes, pad_after_minutes FROM holds WHERE calendar_id = ? "
                           "AND start_at = ? AND case_id = ?", (slot.calendar_id, _iso(slot.start), case_id)
                           ).fetchone()
        if row is None:
            return self.buffer, self.buffer
        return timedelta(minutes=int(row[0])), timedelta(minutes=int(row[1]))

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        try:
            return self._book(slot, case_id, appointment_type, contact_id, idempotency_key)
        except IntegrityError as exc:  # the unique key refused a second live booking of this slot
            raise SlotUnavailable("slot was taken") from exc

    def _book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"calendar:{slot.calendar_id}")
            existing = conn.execute(
                "SELECT appointment_id FROM appointments WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if existing:
                return str(existing[0])
            before, after = self._pads(conn, slot, case_id)
            if self._conflicts(conn, slot, case_id, datetime.now(UTC), before, after):
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
