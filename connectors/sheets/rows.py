"""A sheet of appointments: the documented header row, and one row read as a reconcile snapshot.

Headers (first row of the range; case, spaces, hyphens and underscores do not matter, so `Appointment ID`,
`appointment_id` and `appointment-id` are one column): `appointment_id`, `start`, `end`, `timezone`, `status`,
`contact_id`, `phone`, `email`, `name`, `type`. `appointment_id`, `start` and `end` are required; a row without
them is skipped. Times are written as ISO 8601 (`2026-12-03 14:30` or `2026-12-03T14:30:00-05:00`): a time
without an offset is read in the row's `timezone` (an IANA name such as `America/New_York`), else the
configured default. Statuses (case-insensitive): `booked` / `scheduled` / `confirmed` / empty = active,
`cancelled` / `canceled`, `no-show` / `no show` / `missed`, `attended` / `completed` / `showed`,
`rescheduled`. A row with any other status is not read (it is counted as unknown), never guessed.
The contact id is `sheets:<contact_id>` when the column holds one, else a keyed hash of the email, never the
email or phone itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.inbound import UNKNOWN_TYPE, clip, contact_id_for
from connectors.sync import Snapshot, SnapshotStatus
from domain.models import Appointment, Contact

COLUMNS = ("appointment_id", "start", "end", "timezone", "status", "contact_id", "phone", "email", "name", "type")
REQUIRED = ("appointment_id", "start", "end")

STATUSES: dict[str, SnapshotStatus] = {
    "": "active", "booked": "active", "scheduled": "active", "confirmed": "active",
    "cancelled": "cancelled", "canceled": "cancelled",
    "no_show": "no_show", "noshow": "no_show", "missed": "no_show",
    "attended": "attended", "completed": "attended", "showed": "attended",
    "rescheduled": "rescheduled",
}


def header_key(text: Any) -> str:
    """`Appointment ID`, ` appointment-id ` and `APPOINTMENT_ID` all name `appointment_id`."""
    return re.sub(r"[\s_\-]+", "_", str(text or "").strip().lower()).strip("_")


class HeaderError(ValueError):
    """The sheet's first row lacks a required column or names one twice."""


@dataclass(frozen=True)
class Header:
    """Column positions by canonical name (engine columns) and by the exact header text (outcome columns)."""

    positions: dict[str, int]
    titles: dict[str, int]

    @classmethod
    def read(cls, row: Sequence[Any]) -> Header:
        positions: dict[str, int] = {}
        titles: dict[str, int] = {}
        for i, cell in enumerate(row):
            key = header_key(cell)
            if not key:
                continue
            if key in titles:
                raise HeaderError(f"the header names column {key!r} twice")
            titles[key] = i
            if key in COLUMNS:
                positions[key] = i
        missing = [c for c in REQUIRED if c not in positions]
        if missing:
            raise HeaderError("the header row lacks " + ", ".join(missing))
        return cls(positions, titles)

    def cell(self, row: Sequence[Any], name: str) -> str:
        i = self.positions.get(name)
        return str(row[i]).strip() if i is not None and i < len(row) and row[i] is not None else ""


def row_hash(row: Sequence[Any]) -> str:
    """What changed is found by comparing this digest with the one stored for the appointment id."""
    return hashlib.sha256(json.dumps([str(c) for c in row], ensure_ascii=False).encode()).hexdigest()[:32]


def _zone(name: str, default: str) -> ZoneInfo:
    for candidate in (name, default):
        try:
            return ZoneInfo(candidate) if candidate else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def sheet_time(text: str, zone: ZoneInfo) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=zone)).astimezone(UTC)


def status_of(text: str) -> SnapshotStatus | None:
    return STATUSES.get(header_key(text))


def row_snapshot(header: Header, row: Sequence[Any], source: str, default_timezone: str, calendar_id: str,
                 changed_at: datetime) -> Snapshot | None:
    """The row as a snapshot, or None when it lacks an id, a readable time range or a known status."""
    cell = header.cell
    appointment_id = clip(cell(row, "appointment_id"), 200)
    status = status_of(cell(row, "status"))
    zone = _zone(cell(row, "timezone"), default_timezone)
    start, end = sheet_time(cell(row, "start"), zone), sheet_time(cell(row, "end"), zone)
    if appointment_id is None or status is None or start is None or end is None or end <= start:
        return None
    email = clip(cell(row, "email"), 254)
    own_id = cell(row, "contact_id")
    contact = Contact(contact_id=contact_id_for(source, email, own_id or None, fallback=appointment_id),
                      name=clip(cell(row, "name"), 200), email=email, phone=clip(cell(row, "phone"), 32),
                      timezone=clip(cell(row, "timezone"), 64))
    appointment = Appointment(source=source, appointment_id=appointment_id, calendar_id=calendar_id[:200],
                              appointment_type=clip(cell(row, "type"), 100) or UNKNOWN_TYPE, start=start, end=end,
                              contact=contact)
    return Snapshot(appointment=appointment, status=status, changed_at=changed_at)
