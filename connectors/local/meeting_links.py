"""Which video meeting belongs to which booking, and who joined it: the link table for attendance from Zoom.

A booking's source event (a webhook body or a calendar event found by reconciliation) carries the meeting's
join URL; `link` records (meeting id -> the booking's appointment). The appointment is stored without contact
details (only its contact id, timezone and locale) and the customer's email only as a keyed hash
(`domain.ids.address_key_for`), so a participant's email can be compared without keeping it.

Participation rows (one per join, closed by the matching leave) say when the customer, the host or someone else
was in the meeting; `attendance` sums the customer's minutes when the meeting ends. Participants are opaque keys
(Zoom's participant uuid or registrant id), never names or emails.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from connectors.local.db import LocalDb
from domain.models import Appointment, Contact

SCHEMA = """
CREATE TABLE IF NOT EXISTS meeting_links (
    provider TEXT NOT NULL,             -- 'zoom'
    meeting_id TEXT NOT NULL,           -- the provider's meeting id (Zoom: the number in the join URL)
    source TEXT NOT NULL,               -- the booking's source and id: the case is case_id_for(source, id)
    appointment_id TEXT NOT NULL,
    start_at TEXT NOT NULL,             -- ISO UTC, the booking's current times
    end_at TEXT NOT NULL,
    guest_key TEXT,                     -- address_key_for(customer email); never the email
    appointment TEXT NOT NULL,          -- Appointment JSON, contact reduced to id / timezone / locale
    linked_at TEXT NOT NULL,
    PRIMARY KEY (provider, meeting_id, source, appointment_id)
);
CREATE INDEX IF NOT EXISTS meeting_links_appt ON meeting_links (source, appointment_id);
CREATE TABLE IF NOT EXISTS meeting_attendance (
    provider TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    session TEXT NOT NULL,              -- one occurrence of the meeting (Zoom's meeting uuid)
    participant TEXT NOT NULL,          -- opaque participant key
    role TEXT NOT NULL,                 -- guest (the booking's customer) | host | other
    joined_at TEXT NOT NULL,
    left_at TEXT,
    PRIMARY KEY (provider, meeting_id, session, participant, joined_at)
);
"""

Role = Literal["guest", "host", "other"]
# a link answers for events from an hour before the booking to half a day after it (late "ended" events, a
# meeting left running); a reused meeting id (a personal meeting room) links each booking in its own window
BEFORE = timedelta(hours=1)
AFTER = timedelta(hours=12)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class MeetingLink(BaseModel):
    provider: str
    meeting_id: str
    appointment: Appointment  # contact reduced: use the CRM for its details
    guest_key: str | None


class Attendance(BaseModel):
    guest_minutes: float | None  # None: the customer never joined
    other_minutes: float | None  # someone we cannot attribute (not the host, not the customer's email)
    host_joined: bool


def reduced(appt: Appointment) -> Appointment:
    """The appointment without contact details (what the link table keeps)."""
    c = appt.contact
    return appt.model_copy(update={"contact": Contact(contact_id=c.contact_id, timezone=c.timezone,
                                                      locale=c.locale)})


def _minutes(spans: list[tuple[datetime, datetime]]) -> float:
    """Total length of possibly overlapping intervals (two devices, a rejoin) in minutes."""
    total, current_end = timedelta(0), None
    current_start = None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return round(total.total_seconds() / 60, 2)


class MeetingLinks:
    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    # ------------------------------------------------------------------ links
    def link(self, provider: str, meeting_id: str, appointment: Appointment, guest_key: str | None) -> None:
        """Create or refresh the link (idempotent); a later call for the same booking updates its times."""
        appt = reduced(appointment)
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO meeting_links (provider, meeting_id, source, appointment_id, start_at, end_at, guest_key, "
                "appointment, linked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, meeting_id, source, appointment_id) DO UPDATE SET "
                "start_at = excluded.start_at, end_at = excluded.end_at, "
                "guest_key = COALESCE(excluded.guest_key, meeting_links.guest_key), "
                "appointment = excluded.appointment",
                (provider, meeting_id, appt.source, appt.appointment_id, _iso(appt.start), _iso(appt.end), guest_key,
                 appt.model_dump_json(), datetime.now(UTC).isoformat()),
            )

    def move(self, source: str, appointment_id: str, start: datetime, end: datetime) -> None:
        """The booking moved (same id, new times): its links follow."""
        with self.db.connect(immediate=True) as conn:
            rows = conn.execute("SELECT provider, meeting_id, appointment FROM meeting_links "
                                "WHERE source = ? AND appointment_id = ?", (source, appointment_id)).fetchall()
            for row in rows:
                appt = Appointment.model_validate_json(row["appointment"]).model_copy(
                    update={"start": start, "end": end})
                conn.execute("UPDATE meeting_links SET start_at = ?, end_at = ?, appointment = ? WHERE provider = ? "
                             "AND meeting_id = ? AND source = ? AND appointment_id = ?",
                             (_iso(start), _iso(end), appt.model_dump_json(), row["provider"], row["meeting_id"],
                              source, appointment_id))

    def find(self, provider: str, meeting_id: str, at: datetime) -> MeetingLink | None:
        """The booking this meeting belongs to at `at`: the one whose window holds `at`, nearest start first."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT * FROM meeting_links WHERE provider = ? AND meeting_id = ?",
                                (provider, meeting_id)).fetchall()
        best: tuple[float, MeetingLink] | None = None
        for row in rows:
            start, end = datetime.fromisoformat(row["start_at"]), datetime.fromisoformat(row["end_at"])
            if not start - BEFORE <= at <= end + AFTER:
                continue
            distance = abs((at - start).total_seconds())
            if best is None or distance < best[0]:
                best = (distance, MeetingLink(provider=provider, meeting_id=meeting_id, guest_key=row["guest_key"],
                                              appointment=Appointment.model_validate_json(row["appointment"])))
        return best[1] if best else None

    def links_of(self, source: str, appointment_id: str) -> list[MeetingLink]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT * FROM meeting_links WHERE source = ? AND appointment_id = ?",
                                (source, appointment_id)).fetchall()
        return [MeetingLink(provider=r["provider"], meeting_id=r["meeting_id"], guest_key=r["guest_key"],
                            appointment=Appointment.model_validate_json(r["appointment"])) for r in rows]

    # ------------------------------------------------------------------ who was there
    def joined(self, provider: str, meeting_id: str, session: str, participant: str, role: Role,
               joined_at: datetime) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO meeting_attendance (provider, meeting_id, session, participant, role, joined_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (provider, meeting_id, session, participant, role, _iso(joined_at)),
            )

    def left(self, provider: str, meeting_id: str, session: str, participant: str, role: Role,
             joined_at: datetime | None, left_at: datetime) -> None:
        """Close the join it belongs to; a leave whose join was never seen records the whole stay. A role learned
        at the join (by email) is kept: Zoom often leaves the email out of later events.

        Zoom's `meeting.participant_left` carries `leave_time` but no `join_time`: with `joined_at=None` the
        participant's latest open stay that began before the leave is closed; with none open, the leave is
        kept as a zero-length stay (it proves presence, not minutes)."""
        with self.db.connect(immediate=True) as conn:
            if joined_at is None:
                row = conn.execute(
                    "SELECT joined_at FROM meeting_attendance WHERE provider = ? AND meeting_id = ? AND session = ? "
                    "AND participant = ? AND left_at IS NULL AND joined_at <= ? ORDER BY joined_at DESC LIMIT 1",
                    (provider, meeting_id, session, participant, _iso(left_at))).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE meeting_attendance SET left_at = ? WHERE provider = ? AND meeting_id = ? AND "
                        "session = ? AND participant = ? AND joined_at = ?",
                        (_iso(left_at), provider, meeting_id, session, participant, row["joined_at"]))
                    return
                joined_at = left_at
            conn.execute(
                "INSERT INTO meeting_attendance (provider, meeting_id, session, participant, role, joined_at, left_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, meeting_id, session, participant, joined_at) "
                "DO UPDATE SET left_at = excluded.left_at",
                (provider, meeting_id, session, participant, role, _iso(joined_at), _iso(left_at)),
            )

    def role_of(self, provider: str, meeting_id: str, session: str, participant: str) -> Role | None:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT role FROM meeting_attendance WHERE provider = ? AND meeting_id = ? AND "
                                "session = ? AND participant = ?", (provider, meeting_id, session, participant)
                                ).fetchall()
        roles = {r["role"] for r in rows}
        for role in ("guest", "host", "other"):
            if role in roles:
                return role
        return None

    def attendance(self, provider: str, meeting_id: str, session: str, ended_at: datetime) -> Attendance:
        """Who was in this occurrence of the meeting; open stays end when the meeting ended."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT role, joined_at, left_at FROM meeting_attendance WHERE provider = ? AND "
                                "meeting_id = ? AND session = ?", (provider, meeting_id, session)).fetchall()
        spans: dict[str, list[tuple[datetime, datetime]]] = {"guest": [], "host": [], "other": []}
        for row in rows:
            start = datetime.fromisoformat(row["joined_at"])
            stop = min(datetime.fromisoformat(row["left_at"]), ended_at) if row["left_at"] else ended_at
            spans[row["role"]].append((start, max(start, stop)))
        return Attendance(guest_minutes=_minutes(spans["guest"]) if spans["guest"] else None,
                          other_minutes=_minutes(spans["other"]) if spans["other"] else None,
                          host_joined=bool(spans["host"]))
