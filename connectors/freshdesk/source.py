"""Freshdesk tickets as reconcile snapshots, polled with `GET /api/v2/tickets?updated_since=` (oldest change
first, 100 a page; https://developers.freshdesk.com/api/#list_all_tickets), so a webhook the rule failed to
deliver (or Freshdesk deferred past its rate limit) is still found. The cursor is the latest `updated_at` seen.

A ticket is an appointment when its reason field (NOSHOW_FRESHDESK_REASON_FIELD, a `cf_` custom field) holds a
value the status map knows. The requester's name, email and phone are read once per requester per poll
(`GET /api/v2/contacts/{id}`). UNVERIFIED: how many pages the list allows (the poll stops after MAX_PAGES and
resumes from the cursor).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.freshdesk.client import PAGE_SIZE, FreshdeskClient
from connectors.helpdesk.tickets import StatusMap, TicketView, record_view, requester_snapshot
from connectors.inbound import clip, opt_dt
from connectors.sync import Snapshot, SyncPage
from domain.models import Contact

MAX_PAGES = 10


def contact_of(contact_id: str, found: Mapping[str, Any]) -> Contact:
    return Contact(contact_id=contact_id, name=clip(found.get("name"), 200), email=clip(found.get("email"), 254),
                   phone=clip(found.get("mobile") or found.get("phone"), 32))


def ticket_view(ticket: Mapping[str, Any], reason_field: str, appointment_field: str | None = None,
                start_field: str | None = None) -> TicketView | None:
    custom = ticket.get("custom_fields")
    return record_view(ticket, custom if isinstance(custom, dict) else {}, reason_field, appointment_field,
                       start_field, "responder_id")


class FreshdeskSource:
    def __init__(self, client: FreshdeskClient, reason_field: str = "cf_reason", source: str = "freshdesk",
                 statuses: Mapping[str, str] | None = None, appointment_field: str | None = None,
                 start_field: str | None = None, first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.source, self.reason_field = client, source, reason_field
        self.statuses = StatusMap(statuses)
        self.appointment_field, self.start_field = appointment_field, start_field
        self.first_lookback = first_lookback

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = (opt_dt(cursor) if cursor else None) or now - self.first_lookback
        latest = since
        people: dict[str, Mapping[str, Any]] = {}
        snaps: list[Snapshot] = []
        for page in range(1, MAX_PAGES + 1):
            rows = self.client.updated(since, page)
            for ticket in rows:
                latest = max(latest, opt_dt(ticket.get("updated_at")) or latest)
                snap = self.snapshot(ticket, people)
                if snap is not None:
                    snaps.append(snap)
            if len(rows) < PAGE_SIZE:
                break
        return SyncPage(snapshots=snaps, cursor=latest.astimezone(UTC).isoformat())

    def snapshot(self, ticket: Mapping[str, Any], people: dict[str, Mapping[str, Any]]) -> Snapshot | None:
        view = ticket_view(ticket, self.reason_field, self.appointment_field, self.start_field)
        return requester_snapshot(self.source, view, self.statuses, people, self.client.contact,
                                  contact_of)
