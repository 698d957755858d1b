"""Jobber visits as reconcile snapshots, read with GraphQL (the webhooks name only the changed item's id).

Jobber has no "updated since" filter on visits (the `VisitFilterAttributes` of the 2022-03-10 schema,
https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations): each poll lists the visits
starting from `back` ago to `ahead` from now, and the differ compares them with what was last seen. A visit with
no client is skipped.

Status (`VisitStatusTypeEnum`: ACTIVE, COMPLETED, LATE, TODAY, UNSCHEDULED, UPCOMING; `isComplete`):
- completed (`isComplete`, `completedAt` or COMPLETED) -> attended;
- LATE ("an incomplete visit whose end time has passed") -> no_show: Jobber has no no-show status, and a visit
  the technician could not complete stays incomplete past its end. UNVERIFIED: how soon crews mark visits
  complete in practice (a visit completed late reads as a no-show until then, and as attended after);
- everything else -> active. A deleted visit (`VISIT_DESTROY`) leaves the listing.

Cursor = ISO time of the poll (it marks that a baseline run happened; the window decides what is listed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.inbound import clip, contact_id_for, dict_at, opt_dt
from connectors.jobber.client import JobberClient
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Appointment, Contact

APPOINTMENT_TYPE = "jobber_visit"


def primary(values: Any, key: str) -> str | None:
    items = [v for v in values if isinstance(v, dict) and v.get(key)] if isinstance(values, list) else []
    chosen = next((v for v in items if v.get("primary")), items[0] if items else None)
    return str(chosen[key]) if chosen else None


def contact_id(source: str, client_id: str) -> str:
    """`jobber:<id>` with Jobber's base64 encoded id in its URL-safe form, so `jobber_client_id` gives it back."""
    return contact_id_for(source, None, provider_id=client_id.replace("+", "-").replace("/", "_").rstrip("="))


def jobber_client_id(contact: str, source: str = "jobber") -> str | None:
    """The Jobber client id a `jobber:` contact id names, or None for another source's contact."""
    if not contact.startswith(f"{source}:") or len(contact) <= len(source) + 1:
        return None
    safe = contact[len(source) + 1:]
    return safe.replace("-", "+").replace("_", "/") + "=" * (-len(safe) % 4)


def visit_status(visit: dict[str, Any]) -> SnapshotStatus:
    status = str(visit.get("visitStatus") or "").upper()
    if visit.get("isComplete") is True or visit.get("completedAt") or status == "COMPLETED":
        return "attended"
    return "no_show" if status == "LATE" else "active"


def visit_snapshot(source: str, visit: dict[str, Any]) -> Snapshot | None:
    visit_id, start = clip(visit.get("id"), 200), opt_dt(visit.get("startAt"))
    client = dict_at(visit, "client")
    client_id = clip(client.get("id"), 100)
    if visit_id is None or start is None or client_id is None:
        return None  # unscheduled, or nobody to recover
    end = opt_dt(visit.get("endAt")) or start
    contact = Contact(contact_id=contact_id(source, client_id),
                      name=clip(client.get("name"), 200), email=clip(primary(client.get("emails"), "address"), 254),
                      phone=clip(primary(client.get("phones"), "number"), 32))
    job = clip(dict_at(visit, "job").get("id"), 200)
    appointment = Appointment(source=source, appointment_id=visit_id, appointment_type=APPOINTMENT_TYPE,
                              calendar_id=job or "default", start=start, end=max(start, end), contact=contact)
    changed = opt_dt(visit.get("completedAt")) or opt_dt(visit.get("createdAt")) or start
    return Snapshot(appointment=appointment, status=visit_status(visit), changed_at=changed)


class JobberSource:
    def __init__(self, client: JobberClient, source: str = "jobber", back: timedelta = timedelta(days=7),
                 ahead: timedelta = timedelta(days=60)) -> None:
        self.client, self.source, self.back, self.ahead = client, source, back, ahead

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        visits = self.client.visits(now - self.back, now + self.ahead)
        snaps = [s for s in (visit_snapshot(self.source, v) for v in visits) if s is not None]
        return SyncPage(snapshots=snaps, cursor=now.astimezone(UTC).isoformat())
