"""Square Appointments: the demo's customer is created in Square first (the webhook names only its id;
https://developer.squareup.com/reference/square/customers-api/create-customer), then `booking.created`
(ACCEPTED) and `booking.updated` (NO_SHOW) deliveries in the documented shape
(https://developer.squareup.com/reference/square/bookings-api/webhooks/booking.updated), signed
`x-square-hmacsha256-signature` = base64 HMAC-SHA256 of the notification URL + body under the signature key
(https://developer.squareup.com/docs/webhooks/step3validate): the URL is the one the stack checks,
NOSHOW_SQUARE_NOTIFICATION_URL or NOSHOW_PUBLIC_BASE_URL + /webhooks/square."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

from connectors.settings import secret
from connectors.square.inbound import calendar_key
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.providers.square import square_client
from workers.settings import Settings

DEMO_LOCATION, DEMO_SERVICE, DEMO_TEAM = "LDEMO0000000", "SVDEMO00000000000000", "TMdemo00000000000000"


def _where(settings: Settings) -> tuple[str, str]:
    q = settings.square
    return (q.location_id or DEMO_LOCATION), (q.service_variation_id or DEMO_SERVICE)


def notification_url(settings: Settings) -> str:
    return (settings.square.notification_url or "").strip() or settings.api.public_base_url.rstrip("/") + \
        "/webhooks/square"


def needs(settings: Settings) -> str | None:
    if not settings.square.configured:
        return "the demo creates its customer in Square: set NOSHOW_SQUARE_ACCESS_TOKEN"
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    first, _, last = p.name.partition(" ")
    made = square_client(settings).create_customer({"given_name": first, "family_name": last,
                                                    "email_address": p.email, "phone_number": p.phone,
                                                    "reference_id": "noshow-demo"}, uuid.uuid4().hex)
    return p.at(contact_ref=made)


def _delivery(settings: Settings, key: str, kind: str, status: str, version: int, p: Person, start: datetime,
              end: datetime) -> Signed:
    location, service = _where(settings)
    now = iso(datetime.now(UTC))
    minutes = max(1, int((end - start).total_seconds() // 60))
    booking = {"id": p.ref, "status": status, "start_at": iso(start), "created_at": now, "updated_at": now,
               "version": version, "location_id": location, "customer_id": p.contact_ref,
               "appointment_segments": [{"service_variation_id": service, "duration_minutes": minutes,
                                         "service_variation_version": 1, "team_member_id": DEMO_TEAM}]}
    body = json.dumps({"merchant_id": "MDEMO", "location_id": location, "type": kind, "event_id": str(uuid.uuid4()),
                       "created_at": now, "data": {"type": "booking", "id": f"{p.ref}:{version}",
                                                    "object": {"booking": booking}}}).encode()
    signed = notification_url(settings).encode() + body
    signature = base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()
    return body, {"content-type": "application/json", "x-square-hmacsha256-signature": signature}, ""


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return _delivery(settings, key, "booking.created", "ACCEPTED", 0, p, start, end)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _delivery(settings, key, "booking.updated", "NO_SHOW", 1, p, start, end)


SOURCE = DemoSource("square", "NOSHOW_SQUARE_SIGNATURE_KEY", lambda s: secret(s.square.signature_key),
                    lambda s: calendar_key(*_where(s)), DEMO_SERVICE, missed, booked, prepare=prepare, needs=needs,
                    ref=lambda: uuid.uuid4().hex[:14], provider_urls=lambda s: [s.square.base_url],
                    creates="a customer")
