"""Mindbody: the demo client is created through the Public API (`POST /client/addclient`; the deliveries name
the client by id and carry no phone or email), then `appointmentBooking.created` and `appointmentBooking.updated`
(`status` NoShow) deliveries signed `X-Mindbody-Signature` (`sha256=` + base64 HMAC-SHA256 of the body under the
subscription's messageSignatureKey; https://developers.mindbodyonline.com/WebhooksDocumentation, UNVERIFIED
format, see connectors/mindbody/inbound.py). Times are written in the site's zone (NOSHOW_MINDBODY_TIME_ZONE)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

from connectors.mindbody.calendar import parse_calendar
from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.providers.mindbody import api_configured, mindbody_client
from workers.settings import Settings

DEMO_CALENDAR = "12@1"  # session type 12 at location 1


def calendar_id(settings: Settings) -> str:
    return (settings.mindbody.calendar or "").strip() or DEMO_CALENDAR


def needs(settings: Settings) -> str | None:
    if not api_configured(settings):
        return ("the demo creates its client in Mindbody: set NOSHOW_MINDBODY_API_KEY, NOSHOW_MINDBODY_SITE_ID, "
                "NOSHOW_MINDBODY_USERNAME and NOSHOW_MINDBODY_PASSWORD")
    if parse_calendar(calendar_id(settings)) is None:
        return "NOSHOW_MINDBODY_CALENDAR must be <sessionTypeId>@<locationId>"
    return None


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    first, _, last = p.name.partition(" ")
    return p.at(contact_ref=mindbody_client(settings).add_client(first, last or "Example", p.email, p.phone))


def _delivery(settings: Settings, kind: str, status: str, p: Person, start: datetime, end: datetime) -> Signed:
    client = mindbody_client(settings)
    session, location = parse_calendar(calendar_id(settings)) or ("12", "1")
    body = json.dumps({
        "messageId": uuid.uuid4().hex, "eventId": kind, "eventSchemaVersion": 1,
        "eventInstanceOriginationDateTime": iso(datetime.now(UTC)), "eventData": {
            "siteId": int((settings.mindbody.site_id or "-99").strip()), "appointmentId": int(p.ref),
            "status": status, "locationId": int(location), "sessionTypeId": int(session), "staffId": 7,
            "clientId": p.contact_ref, "clientFirstName": p.name.partition(" ")[0],
            "clientLastName": p.name.partition(" ")[2], "startDateTime": client.local(start),
            "endDateTime": client.local(end)}}).encode()
    key = (secret(settings.mindbody.signature_key) or "").encode()
    signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return body, {"content-type": "application/json", "x-mindbody-signature": f"sha256={signature}"}, ""


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return _delivery(settings, "appointmentBooking.created", "Booked", p, start, end)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _delivery(settings, "appointmentBooking.updated", "NoShow", p, start, end)


SOURCE = DemoSource("mindbody", "NOSHOW_MINDBODY_SIGNATURE_KEY", lambda s: secret(s.mindbody.signature_key),
                    calendar_id, "session-type-12", missed, booked, prepare=prepare, needs=needs,
                    ref=lambda: str(uuid.uuid4().int % 10**9), provider_urls=lambda s: [s.mindbody.base_url],
                    creates="a client")
