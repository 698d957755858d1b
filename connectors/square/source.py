"""Square bookings as reconcile snapshots, for lost webhooks. ListBookings (`GET /v2/bookings`,
https://developer.squareup.com/reference/square/bookings-api/list-bookings) has no "updated since" filter, only a
start-time window (`start_at_min` / `start_at_max`, cursor pages): each poll lists the bookings starting from
`back` ago to `ahead` from now (at most 31 days together, the window ListBookings takes by default) and the differ
compares them with what was last seen. Each becomes the snapshot its webhook would have produced
(connectors/square/inbound.py): NO_SHOW -> no_show, the cancelled statuses and DECLINED -> cancelled, ACCEPTED ->
active, PENDING skipped. The customer's name, email and phone are read once per customer per poll.

Cursor = ISO time of the last `updated_at` seen, never later than a minute before the poll (it marks that a
baseline ran; the window decides what is listed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError
from connectors.inbound import clip, opt_dt
from connectors.square.client import SquareClient
from connectors.square.inbound import CANCELLED, booking_appointment
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Contact

log = structlog.get_logger(__name__)
OVERLAP = timedelta(minutes=1)


def customer_contact(contact_id: str, customer: dict[str, Any]) -> Contact:
    name = " ".join(str(customer.get(k) or "").strip() for k in ("given_name", "family_name")).strip()
    return Contact(contact_id=contact_id, name=clip(name, 200), email=clip(customer.get("email_address"), 254),
                   phone=clip(customer.get("phone_number"), 32))


def booking_status(status: str) -> SnapshotStatus | None:
    if status == "NO_SHOW":
        return "no_show"
    if status in CANCELLED:
        return "cancelled"
    return "active" if status == "ACCEPTED" else None


class SquareSource:
    def __init__(self, client: SquareClient, location_id: str | None = None, source: str = "square",
                 back: timedelta = timedelta(days=7), ahead: timedelta = timedelta(days=24)) -> None:
        if back + ahead > timedelta(days=31):
            raise ValueError("Square lists at most 31 days of bookings at a time")
        self.client, self.location_id, self.source, self.back, self.ahead = client, location_id, source, back, ahead

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = opt_dt(cursor) if cursor else None
        rows = self.client.bookings(now - self.back, now + self.ahead, self.location_id)
        people: dict[str, dict[str, Any]] = {}
        snaps = [s for s in (self.snapshot(r, people) for r in rows) if s is not None]
        floor = since or now - self.back
        latest = max([s.changed_at for s in snaps], default=floor)
        upto = max(floor, min(latest, now - OVERLAP))
        return SyncPage(snapshots=snaps, cursor=upto.astimezone(UTC).isoformat())

    def snapshot(self, row: dict[str, Any], people: dict[str, dict[str, Any]]) -> Snapshot | None:
        status = booking_status(str(row.get("status") or ""))
        appointment = booking_appointment(self.source, row)
        customer = clip(row.get("customer_id"), 100)
        if status is None or appointment is None or customer is None:
            return None
        if customer not in people:
            try:
                people[customer] = self.client.customer(customer)
            except ProviderError as exc:
                log.info("square_customer_unreadable", error=type(exc).__name__)
                people[customer] = {}
        contact = customer_contact(appointment.contact.contact_id, people[customer])
        changed = opt_dt(row.get("updated_at")) or opt_dt(row.get("created_at")) or appointment.start
        return Snapshot(appointment=appointment.model_copy(update={"contact": contact}), status=status,
                        changed_at=changed)
