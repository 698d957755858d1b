"""GoHighLevel calendar events as reconcile snapshots, for the webhooks GoHighLevel retries only on 429.

GoHighLevel's events list has no "updated since" filter, only a start-time window
(https://marketplace.gohighlevel.com/docs/ghl/calendars/get-calendar-events): each poll lists the events of the
configured calendar (or calendar group) starting from `back` ago to `ahead` from now, and the differ compares
them with what was last seen. Each event becomes the snapshot its webhook would have produced
(connectors/gohighlevel/inbound.py): the same appointment id, contact `gohighlevel:<contactId>` (its name, email
and phone read once per poll, `GET /contacts/{id}`), calendar and owner; so a poll and a webhook land on one case.

Status (`appointmentStatus`: new, confirmed, cancelled, showed, noshow, invalid; `deleted`): deleted, cancelled
or invalid -> cancelled; noshow -> no_show; showed -> attended; else active. Events with no contact (blocked
time) are skipped.

Cursor = ISO time of the last `dateUpdated` seen, never later than a minute before the poll. It marks that a
first (baseline) run happened and how far the changes go; it filters nothing: the window decides what is listed,
so an event booked far ahead that enters the window with an old `dateUpdated` is still seen. Each poll reads each
listed contact once (about one request per distinct contact, within the 100 per 10 s limit the client keeps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import PermanentProviderError
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.inbound import clip, contact_id_for, opt_dt
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Appointment, Contact

log = structlog.get_logger(__name__)

OVERLAP = timedelta(minutes=1)
CANCELLED = {"cancelled", "invalid"}


def event_status(event: dict[str, Any]) -> SnapshotStatus:
    status = str(event.get("appointmentStatus") or event.get("appoinmentStatus") or "").lower()
    if event.get("deleted") is True or status in CANCELLED:
        return "cancelled"
    return "no_show" if status == "noshow" else "attended" if status == "showed" else "active"


def event_snapshot(source: str, event: dict[str, Any], person: dict[str, Any]) -> Snapshot | None:
    event_id, start = clip(event.get("id"), 200), opt_dt(event.get("startTime"))
    contact_id = clip(event.get("contactId"), 100)
    if not event_id or start is None or not contact_id:
        return None
    end = opt_dt(event.get("endTime")) or start
    name = " ".join(str(person.get(k) or "") for k in ("firstName", "lastName")).strip()
    contact = Contact(contact_id=contact_id_for(source, None, provider_id=contact_id, fallback=event_id),
                      name=clip(name, 200), email=clip(person.get("email"), 254), phone=clip(person.get("phone"), 32))
    appointment = Appointment(source=source, appointment_id=event_id, appointment_type="gohighlevel_appointment",
                              calendar_id=clip(event.get("calendarId"), 200),
                              owner_id=clip(event.get("assignedUserId"), 200), start=start, end=max(start, end),
                              contact=contact)
    changed = opt_dt(event.get("dateUpdated")) or opt_dt(event.get("dateAdded")) or start
    return Snapshot(appointment=appointment, status=event_status(event), changed_at=changed)


class GoHighLevelSource:
    """Cursor = ISO time of the last event change seen (see the module docstring)."""

    def __init__(self, client: GoHighLevelClient, calendar_id: str | None = None, group_id: str | None = None,
                 source: str = "gohighlevel", back: timedelta = timedelta(days=7),
                 ahead: timedelta = timedelta(days=60)) -> None:
        if not (calendar_id or group_id):
            raise ValueError("the GoHighLevel poll needs a calendar id or a calendar group id")
        self.client, self.calendar_id, self.group_id = client, calendar_id, group_id
        self.source, self.back, self.ahead = source, back, ahead

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = opt_dt(cursor) if cursor else None
        events = self.client.calendar_events(now - self.back, now + self.ahead, self.calendar_id, self.group_id)
        people: dict[str, dict[str, Any]] = {}
        snaps: list[Snapshot] = []
        for event in events:
            snap = event_snapshot(self.source, event, self._person(event, people))
            if snap is not None:
                snaps.append(snap)
        floor = since or now - self.back
        latest = max([s.changed_at for s in snaps], default=floor)
        upto = max(floor, min(latest, now - OVERLAP))
        return SyncPage(snapshots=snaps, cursor=upto.astimezone(UTC).isoformat())

    def _person(self, event: dict[str, Any], people: dict[str, dict[str, Any]]) -> dict[str, Any]:
        contact = clip(event.get("contactId"), 100)
        if not contact or not contact.isalnum():
            return {}
        if contact not in people:
            try:
                people[contact] = self.client.contact(contact)
            except PermanentProviderError as exc:  # the event stands without the details, as on the webhook path
                log.info("gohighlevel_contact_unreadable", error=type(exc).__name__)
                people[contact] = {}
        return people[contact]
