"""GoHighLevel: the demo contact is created through the API (the webhook names only its id), then
AppointmentCreate and AppointmentUpdate (`appointmentStatus` noshow) deliveries signed `x-ghl-signature` (base64
Ed25519 over the body; https://marketplace.gohighlevel.com/docs/webhook/AppointmentCreate,
https://marketplace.gohighlevel.com/docs/oauth/WebhookAuthentication, contacts
https://marketplace.gohighlevel.com/docs/ghl/contacts/create-contact).

GoHighLevel keeps its signing key: the stack holds only the public key. The demo signs with
NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY, the private half of a test key pair whose public half the stack is
configured with, and refuses when that is missing or is not the pair's other half."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from connectors.gohighlevel.inbound import load_private_key, load_public_key
from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.providers.sales_crms import gohighlevel_client
from workers.settings import Settings

DEMO_CALENDAR = "demo-calendar"


def calendar_id(settings: Settings) -> str:
    return (settings.gohighlevel.calendar_id or "").strip() or DEMO_CALENDAR


def needs(settings: Settings) -> str | None:
    g = settings.gohighlevel
    try:
        public = load_public_key(secret(g.webhook_public_key) or "").public_bytes(Encoding.Raw, PublicFormat.Raw)
    except ValueError:
        return "NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY is not an Ed25519 public key; run `noshow connectors check`"
    if not secret(g.demo_signing_key):
        return ("the demo cannot sign as GoHighLevel (the stack holds only its public key): set "
                "NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY to the private half of a test key pair")
    try:
        own = load_private_key(secret(g.demo_signing_key) or "").public_key().public_bytes(Encoding.Raw,
                                                                                        PublicFormat.Raw)
    except ValueError as exc:
        return f"NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY is {exc}"
    if own != public:
        return "NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY is not the private half of NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY"
    if not (secret(g.access_token) and (g.location_id or "").strip()):
        return ("the demo creates its contact in GoHighLevel: set NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN and "
                "NOSHOW_GOHIGHLEVEL_LOCATION_ID")
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    first, _, last = p.name.partition(" ")
    made = gohighlevel_client(settings).create_contact({"firstName": first, "lastName": last, "email": p.email,
                                                        "phone": p.phone, "timezone": p.zone, "source": "demo"})
    if not made:
        raise ConnectionError("GoHighLevel created no contact for the demo")
    return p.at(contact_ref=made)


def _delivery(settings: Settings, kind: str, status: str, p: Person, start: datetime, end: datetime) -> Signed:
    now = iso(datetime.now(UTC))
    body = json.dumps({
        "type": kind, "locationId": (settings.gohighlevel.location_id or "").strip(), "appointment": {
            "id": p.ref, "address": "https://zoom.us/j/123", "title": "Consultation",
            "calendarId": calendar_id(settings), "contactId": p.contact_ref, "groupId": "",
            "appointmentStatus": status, "assignedUserId": (settings.gohighlevel.user_id or "").strip(),
            "users": [], "notes": "", "source": "booking_widget", "startTime": iso(start), "endTime": iso(end),
            "dateAdded": now, "dateUpdated": now},
        "timestamp": now, "webhookId": uuid.uuid4().hex}).encode()
    key = load_private_key(secret(settings.gohighlevel.demo_signing_key) or "")
    return body, {"content-type": "application/json",
                  "x-ghl-signature": base64.b64encode(key.sign(body)).decode()}, ""


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return _delivery(settings, "AppointmentCreate", "confirmed", p, start, end)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _delivery(settings, "AppointmentUpdate", "noshow", p, start, end)


SOURCE = DemoSource("gohighlevel", "NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY",
                    lambda s: secret(s.gohighlevel.webhook_public_key), calendar_id, "gohighlevel_appointment",
                    missed, booked, prepare=prepare, needs=needs, ref=lambda: uuid.uuid4().hex[:20],
                    provider_urls=lambda s: [s.gohighlevel.base_url], creates="a contact")
