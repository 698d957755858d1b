"""The generic `events` route: canonical events signed the Standard Webhooks way (`webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<ts>.<body>">`,
https://www.standardwebhooks.com/). Its appointments come from the demo calendar of source "demo"."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from connectors.standard_webhooks import PUBLIC_PREFIX, sign
from workers.dev.demo_sources.base import DemoSource, Person, Signed, iso
from workers.settings import Settings

CALENDAR, TYPE = "cal-dr-lee", "consultation"


def signing_secret(settings: Settings) -> str | None:
    """The first shared secret: a `whpk_` public key verifies but cannot sign."""
    return next((s for s in settings.auth.webhook_secrets if not s.startswith(PUBLIC_PREFIX)), None)


def _event(key: str, kind: str, p: Person, start: datetime, end: datetime) -> Signed:
    msg_id = f"msg_{uuid.uuid4().hex}"
    appointment: dict[str, Any] = {
        "source": "demo", "appointment_id": p.ref, "appointment_type": TYPE, "calendar_id": CALENDAR,
        "start": iso(start), "end": iso(end),
        "contact": {"contact_id": f"demo-{p.ref[:12]}", "name": p.name, "phone": p.phone, "email": p.email,
                    "timezone": p.zone}}
    body = json.dumps({"type": kind, "timestamp": iso(datetime.now(UTC)), "data": {"appointment": appointment}}
                      ).encode()
    ts = int(time.time())
    return body, {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                  "webhook-signature": sign(key, msg_id, ts, body)}, ""


def booked(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return _event(key, "appointment.booked", p, start, end)


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _event(key, "appointment.no_show", p, start, end)


SOURCE = DemoSource("events", "NOSHOW_WEBHOOK_SECRET (a whsec_ secret: a whpk_ public key cannot sign)",
                    signing_secret, lambda _: CALENDAR, TYPE, missed, booked, source="demo")
