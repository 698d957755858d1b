"""Mindbody appointments and class visits as reconcile snapshots, for the webhooks Mindbody may not deliver.

Appointments: `GET /appointment/staffappointments` has no modified-since filter, so each poll lists the
appointments starting from `back` ago to `ahead` from now and the differ compares them with what was last seen.
Status (v6 AppointmentStatus): NoShow -> no_show; Completed, Arrived -> attended; Cancelled, LateCancelled ->
cancelled; else active.

Class visits: `GET /class/classvisits` is the one call with a modified-date filter (`request.lastModifiedDate`),
so the cursor is the latest visit `LastModifiedDateTime` seen, and each poll reads the visits of the classes that
started in the last `back` (`GET /class/classes`) changed since it. SignedIn -> attended, LateCancelled ->
cancelled, else active: Mindbody stores no "missed" flag on a visit, so a class the client never signed in to is
left to the engine's attendance rule after the class's end (UNVERIFIED that a missed visit shows nothing else).

Clients (name, email, mobile phone) are read once per poll in one `GET /client/clients` per page of ids.
Cursor: the later of the last visit change and a minute before the poll (appointments are windowed, not
filtered). Connectors/mindbody/client.py cites the endpoints.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError
from connectors.inbound import clip, opt_dt
from connectors.mindbody.client import MindbodyClient
from connectors.mindbody.inbound import APPOINTMENT_STATUS, SOURCE, class_visit_id, mindbody_contact, norm
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Appointment

log = structlog.get_logger(__name__)

OVERLAP = timedelta(minutes=1)


def visit_status(visit: dict[str, Any]) -> SnapshotStatus:
    if visit.get("LateCancelled") is True:
        return "cancelled"
    return "attended" if visit.get("SignedIn") is True else "active"


class MindbodySource:
    def __init__(self, client: MindbodyClient, back: timedelta = timedelta(days=7),
                 ahead: timedelta = timedelta(days=60), classes: bool = True, health: bool = False) -> None:
        self.client, self.back, self.ahead, self.with_classes = client, back, ahead, classes
        self.health = health

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = opt_dt(cursor) if cursor else None
        rows = [(r, "appointment") for r in self.client.staff_appointments(now - self.back, now + self.ahead)]
        if self.with_classes:
            for cls in self.client.classes(now - self.back, now):
                if cls.get("Id") is not None:
                    rows += [(v, "visit") for v in self.client.class_visits(str(cls["Id"]), since)]
        people = self._clients([str(r["ClientId"]) for r, _ in rows if r.get("ClientId")])
        snaps = [s for s in (self.snapshot(r, kind, people, now) for r, kind in rows) if s is not None]
        visit_changes = [s.changed_at for s in snaps if s.appointment.appointment_type == "class"]
        floor = since or now - self.back
        upto = max(floor, min(max(visit_changes, default=floor), now - OVERLAP))
        return SyncPage(snapshots=snaps, cursor=upto.astimezone(UTC).isoformat())

    def _clients(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        unique = sorted(set(ids))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(unique), 50):
            try:
                found.update(self.client.clients(unique[i:i + 50]))
            except ProviderError as exc:  # the snapshots stand without the details, as on the webhook path
                log.info("mindbody_clients_unreadable", error=type(exc).__name__)
        return found

    def snapshot(self, row: dict[str, Any], kind: str, people: dict[str, dict[str, Any]], now: datetime
                 ) -> Snapshot | None:
        row_id, start = row.get("Id"), self.client.parse(row.get("StartDateTime"))
        client_id = clip(row.get("ClientId"), 100)
        if row_id is None or start is None or not client_id:
            return None
        end = self.client.parse(row.get("EndDateTime")) or start
        person = people.get(client_id, {})
        contact = mindbody_contact(client_id, str(row_id), person.get("FirstName"), person.get("LastName"),
                                   person.get("Email"), person.get("MobilePhone"), health=self.health)
        if kind == "visit":
            appointment = Appointment(source=SOURCE, appointment_id=class_visit_id(row_id)[:100],
                                      appointment_type="class",
                                      calendar_id=clip(row.get("LocationId"), 50) or "default",
                                      owner_id=clip(row.get("StaffId"), 50), start=start, end=max(start, end),
                                      contact=contact)
            changed = self.client.parse(row.get("LastModifiedDateTime")) or now
            return Snapshot(appointment=appointment, status=visit_status(row), changed_at=changed)
        session, location = clip(row.get("SessionTypeId"), 50), clip(row.get("LocationId"), 50)
        appointment = Appointment(
            source=SOURCE, appointment_id=str(row_id)[:100],
            appointment_type=f"session-type-{session}" if session else "mindbody_appointment",
            calendar_id=f"{session}@{location}" if session and location else location or "default",
            owner_id=clip(row.get("StaffId"), 50), start=start, end=max(start, end), contact=contact)
        # appointments carry no modification time: a change is dated when the poll sees it
        return Snapshot(appointment=appointment, status=APPOINTMENT_STATUS.get(norm(row.get("Status")), "active"),
                        changed_at=now)
