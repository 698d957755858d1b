"""Zendesk tickets as reconcile snapshots, from the cursor-based incremental ticket export
(https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/):
`GET /api/v2/incremental/tickets/cursor.json?start_time=<unix>` the first time, then `?cursor=<after_cursor>`,
pages followed until `end_of_stream`. The stored cursor is the last `after_cursor`, so a lost webhook is found
on the next poll.

A ticket is an appointment when its status field (NOSHOW_ZENDESK_STATUS_FIELD_ID) holds a value the status map
knows; the appointment id and time come from the configured fields as in the webhook. The requester's name,
email and phone are read once per requester per poll (`GET /api/v2/users/{id}.json`).
UNVERIFIED: the export's field names (`tickets`, `after_cursor`, `end_of_stream`) beyond third-party SDKs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.helpdesk.tickets import StatusMap, TicketView, record_view, requester_snapshot
from connectors.inbound import clip
from connectors.sync import Snapshot, SyncPage
from connectors.zendesk.client import ZendeskClient, custom_values
from domain.models import Contact

MAX_PAGES = 50  # one poll reads at most this many export pages; the cursor resumes the rest


def user_contact(contact_id: str, user: Mapping[str, Any]) -> Contact:
    return Contact(contact_id=contact_id, name=clip(user.get("name"), 200), email=clip(user.get("email"), 254),
                   phone=clip(user.get("phone"), 32))


class ZendeskSource:
    def __init__(self, client: ZendeskClient, status_field_id: str, source: str = "zendesk",
                 statuses: Mapping[str, str] | None = None, appointment_field_id: str | None = None,
                 start_field_id: str | None = None, first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.source, self.status_field_id = client, source, status_field_id
        self.statuses = StatusMap(statuses)
        self.appointment_field_id, self.start_field_id = appointment_field_id, start_field_id
        self.first_lookback = first_lookback

    def view(self, ticket: Mapping[str, Any]) -> TicketView | None:
        return record_view(ticket, custom_values(ticket), self.status_field_id, self.appointment_field_id,
                           self.start_field_id, "assignee_id")

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        people: dict[str, Mapping[str, Any]] = {}
        snaps: list[Snapshot] = []
        for _ in range(MAX_PAGES):
            page = self.client.export(cursor, now - self.first_lookback)
            for ticket in page.get("tickets") or []:
                snap = self.snapshot(ticket, people) if isinstance(ticket, dict) else None
                if snap is not None:
                    snaps.append(snap)
            after = page.get("after_cursor")
            cursor = str(after) if after else cursor
            if page.get("end_of_stream") is not False or not after:
                break
        return SyncPage(snapshots=snaps, cursor=cursor)

    def snapshot(self, ticket: Mapping[str, Any], people: dict[str, Mapping[str, Any]]) -> Snapshot | None:
        return requester_snapshot(self.source, self.view(ticket), self.statuses, people, self.client.user,
                                  user_contact)
