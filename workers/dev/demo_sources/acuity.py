"""Acuity Scheduling: the demo's appointment is recorded in Acuity first (an admin booking of a time that has
begun, then marked a no-show: an admin cancellation with `noShow`,
https://developers.acuityscheduling.com/reference/put-appointments-id-cancel), then the `changed` ping is sent,
form-encoded and signed `X-Acuity-Signature` (base64 HMAC-SHA256 of the body under the API key,
https://developers.acuityscheduling.com/docs/webhooks). The ping names only the appointment: the stack reads it
back from Acuity for its times, type and client, as it does for a real delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode

from connectors.acuity.client import calendar_key
from connectors.settings import secret
from domain.models import Contact
from workers.dev.demo_sources.base import DemoSource, Person, Signed
from workers.providers.acuity import CREDENTIALS, acuity_client
from workers.settings import Settings

DEMO_TYPE, DEMO_CALENDAR = "1", "27238"


def _type(settings: Settings) -> tuple[str, str]:
    a = settings.acuity
    return (a.appointment_type_id or DEMO_TYPE), (a.calendar_id or DEMO_CALENDAR)


def calendar_id(settings: Settings) -> str:
    return calendar_key(*_type(settings))


def needs(settings: Settings) -> str | None:
    return None if settings.acuity.configured else f"the demo records its appointment in Acuity: set {CREDENTIALS}"


def prepare(settings: Settings, p: Person, start: datetime, end: datetime) -> Person:
    kind, calendar = _type(settings)
    client = acuity_client(settings)
    made = client.create(kind, start, Contact(contact_id="acuity:demo", name=p.name, email=p.email, phone=p.phone,
                                              timezone=p.zone), calendar, admin=True)
    client.cancel(str(made["id"]), no_show=True, notify=False)
    return p.at(ref=str(made["id"]))


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    kind, calendar = _type(settings)
    body = urlencode({"action": "changed", "id": p.ref, "calendarID": calendar, "appointmentTypeID": kind}).encode()
    signature = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"content-type": "application/x-www-form-urlencoded", "x-acuity-signature": signature}, ""


SOURCE = DemoSource("acuity", "NOSHOW_ACUITY_API_KEY", lambda s: secret(s.acuity.api_key), calendar_id,
                    "Regular Visit", missed, prepare=prepare, needs=needs,
                    provider_urls=lambda s: [s.acuity.base_url], creates="an appointment (marked a no-show)")
