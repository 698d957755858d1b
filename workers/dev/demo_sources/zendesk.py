"""Zendesk: the demo requester and its ticket are created through the API (the trigger names only their ids),
then the trigger's webhook says the ticket's appointment status became "missed", rendered from the template in
docs/connectors.md and signed with the webhook's signing secret
(https://developer.zendesk.com/documentation/webhooks/verifying/; users and tickets
https://developer.zendesk.com/api-reference/ticketing/users/users/,
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.providers.zendesk import CREDENTIALS, zendesk_client
from workers.settings import Settings


def needs(settings: Settings) -> str | None:
    if not settings.zendesk.configured:
        return f"the demo creates its requester in Zendesk: set NOSHOW_ZENDESK_SUBDOMAIN and {CREDENTIALS}"
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    client = zendesk_client(settings)
    requester = client.create_user(p.name, p.email, p.phone)
    field = settings.zendesk.status_field_id
    ticket = client.open_ticket(requester, "Consultation", "Booked by phone", {field: "missed"} if field else {})
    return p.at(ref=ticket, contact_ref=requester)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    now = datetime.now(UTC)
    body = json.dumps({"ticket_id": p.ref, "appointment_status": "missed", "requester_id": p.contact_ref,
                       "assignee_id": "", "appointment_id": "", "appointment_start": iso(start),
                       "created_at": iso(start), "updated_at": iso(now)}).encode()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(key.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return body, {"content-type": "application/json", "x-zendesk-webhook-signature": signature,
                  "x-zendesk-webhook-signature-timestamp": stamp}, ""


SOURCE = DemoSource("zendesk", "NOSHOW_ZENDESK_WEBHOOK_SECRET", lambda s: secret(s.zendesk.webhook_secret),
                    lambda _: "tickets", "ticket", missed, prepare=prepare, needs=needs,
                    provider_urls=lambda s: [s.zendesk.url], creates="an end user and a ticket")
