"""Cal.com: BOOKING_CREATED, then AFTER_GUESTS_CAL_VIDEO_NO_SHOW, signed `x-cal-signature-256` (hex HMAC-SHA256 of
the body) as https://cal.com/docs/developing/guides/automation/webhooks describes."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.settings import Settings


def _sign(key: str, doc: dict[str, Any]) -> Signed:
    body = json.dumps(doc).encode()
    return body, {"content-type": "application/json",
                  "x-cal-signature-256": hmac.new(key.encode(), body, hashlib.sha256).hexdigest()}, ""


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return booking(key, p, start, end)


def booking(key: str, p: Person, start: datetime, end: datetime, location: str = "integrations:daily") -> Signed:
    return _sign(key, {"triggerEvent": "BOOKING_CREATED", "createdAt": iso(datetime.now(UTC)), "payload": {
        "uid": p.ref, "bookingId": 91, "eventTypeId": 7, "type": "30min", "title": f"30min with {p.name}",
        "startTime": iso(start), "endTime": iso(end), "status": "ACCEPTED",
        "organizer": {"id": 5, "name": "Dr. Lee", "email": "lee@example.com", "timeZone": p.zone},
        "attendees": [{"name": p.name, "email": p.email, "timeZone": p.zone, "language": {"locale": "en"}}],
        "responses": {"name": {"value": p.name}, "email": {"value": p.email}},
        "smsReminderNumber": p.phone, "location": location,
        **({"metadata": {"videoCallUrl": location}} if location.startswith("https://") else {})}})


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _sign(key, {"triggerEvent": "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "createdAt": iso(datetime.now(UTC)),
                       "payload": {"title": f"30min with {p.name}", "bookingId": 91, "bookingUid": p.ref,
                                   "startTime": iso(start), "endTime": iso(end),
                                   "attendees": [{"email": p.email, "noShow": True}], "eventType": {"id": 7},
                                   "message": "Guest didn't join the call"}})


SOURCE = DemoSource("calcom", "NOSHOW_CALCOM_WEBHOOK_SECRET", lambda s: secret(s.calcom.webhook_secret),
                    lambda _: "7", "30min", missed, booked)
