"""Calendly: `invitee.created`, then `invitee_no_show.created`, signed `Calendly-Webhook-Signature: t=<unix>,v1=<hex
HMAC-SHA256 of "<t>." + body>` (https://developer.calendly.com/api-docs/webhooks, payloads the Invitee and
InviteeNoShow resources of https://developer.calendly.com/api-docs/calendly-api)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.settings import Settings

DEMO_EVENT_TYPE = "https://api.calendly.com/event_types/DEMO"
ORGANIZER = "https://api.calendly.com/users/DEMO"


def event_type(settings: Settings) -> str:
    return (settings.calendly.event_type or "").strip() or DEMO_EVENT_TYPE


def invitee_uri() -> str:
    return (f"https://api.calendly.com/scheduled_events/{uuid.uuid4().hex[:16].upper()}"
            f"/invitees/{uuid.uuid4().hex[:16].upper()}")


def _sign(key: str, doc: dict[str, Any]) -> Signed:
    body = json.dumps(doc).encode()
    t = int(time.time())
    v1 = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"content-type": "application/json", "calendly-webhook-signature": f"t={t},v1={v1}"}, ""


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    first, _, last = p.name.partition(" ")
    return _sign(key, {"event": "invitee.created", "created_at": iso(datetime.now(UTC)), "created_by": ORGANIZER,
                       "payload": {
                           "uri": p.ref, "email": p.email, "name": p.name, "first_name": first, "last_name": last,
                           "status": "active", "timezone": p.zone, "text_reminder_number": p.phone,
                           "rescheduled": False, "old_invitee": None, "new_invitee": None, "no_show": None,
                           "created_at": iso(datetime.now(UTC)), "updated_at": iso(datetime.now(UTC)),
                           "tracking": {"utm_source": None, "utm_campaign": None, "salesforce_uuid": None},
                           "questions_and_answers": [],
                           "scheduled_event": {
                               "uri": p.ref.split("/invitees/")[0], "name": "consultation", "status": "active",
                               "start_time": iso(start), "end_time": iso(end), "event_type": event_type(settings),
                               "location": {"type": "zoom", "join_url": "https://zoom.us/j/123"},
                               "event_memberships": [{"user": ORGANIZER}]}}})


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    now = iso(datetime.now(UTC))
    return _sign(key, {"event": "invitee_no_show.created", "created_at": now, "created_by": ORGANIZER,
                       "payload": {"uri": f"https://api.calendly.com/invitee_no_shows/{uuid.uuid4().hex[:16]}",
                                   "invitee": p.ref, "created_at": now}})


SOURCE = DemoSource("calendly", "NOSHOW_CALENDLY_SIGNING_KEY", lambda s: secret(s.calendly.signing_key),
                    event_type, "consultation", missed, booked, ref=lambda: invitee_uri())
