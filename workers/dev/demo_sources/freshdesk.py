"""Freshdesk: the demo contact and its ticket are created through the API, then the automation rule's webhook
says the ticket's reason became "Canceled appointment" (the reschedule playbook), rendered from the template
in docs/connectors.md and carrying the rule's shared header
(https://support.freshdesk.com/support/solutions/articles/132589-using-webhooks-in-automation-rules; contacts
and tickets https://developers.freshdesk.com/api/)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.providers.freshdesk import freshdesk_client
from workers.settings import Settings

REASON = "Canceled appointment"


def needs(settings: Settings) -> str | None:
    if not settings.freshdesk.configured:
        return "the demo creates its contact in Freshdesk: set NOSHOW_FRESHDESK_DOMAIN and NOSHOW_FRESHDESK_API_KEY"
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    client = freshdesk_client(settings)
    requester = client.create_contact(p.name, p.email, p.phone)
    ticket = client.open_ticket(requester, "Consultation", "Booked by phone",
                                {settings.freshdesk.reason_field: REASON})
    return p.at(ref=ticket, contact_ref=requester)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    f = settings.freshdesk
    body = json.dumps({"ticket_id": p.ref, "status": "Open", "appointment_status": REASON,
                       "requester_id": p.contact_ref, "appointment_id": "", "appointment_start": iso(start),
                       "created_at": iso(start), "updated_at": iso(datetime.now(UTC))}).encode()
    headers = {"content-type": "application/json"}
    if secret(f.webhook_token):
        headers[f.webhook_header.lower()] = key
    else:
        pair = f"{(f.webhook_user or '').strip()}:{key}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return body, headers, ""


SOURCE = DemoSource("freshdesk", "NOSHOW_FRESHDESK_WEBHOOK_TOKEN (or NOSHOW_FRESHDESK_WEBHOOK_PASSWORD)",
                    lambda s: secret(s.freshdesk.webhook_token) or (
                        secret(s.freshdesk.webhook_password) if s.freshdesk.webhook_user else None),
                    lambda _: "tickets", "ticket", missed, prepare=prepare, needs=needs,
                    provider_urls=lambda s: [s.freshdesk.url], creates="a contact and a ticket")
