"""Zoom as attendance evidence: a Cal.com booking whose location is a Zoom join link, then Zoom's own signed
webhooks saying the host joined and the meeting ended without the customer, which makes the case a no-show
(`x-zm-signature: v0=<hex HMAC-SHA256(Secret Token, "v0:<ts>:" + body)>`, https://developers.zoom.us/docs/api/webhooks/;
participant events https://developers.zoom.us/docs/api/meetings/events/). Zoom names no booking itself, so the
stack needs the Cal.com webhook too."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import workers.dev.demo_sources.calcom as calcom
from connectors.settings import secret
from workers.dev.demo_sources.base import Delivery, DemoSource, Person, Signed, iso
from workers.settings import Settings

HOST_ID = "DEMOhost0000Q"


def meeting_id(p: Person) -> str:
    # one meeting per booking, numeric like the id in a Zoom join URL
    return str(85_000_000_000 + int(hashlib.sha256(p.ref.encode()).hexdigest()[:12], 16) % 1_000_000_000)


def needs(settings: Settings) -> str | None:
    if not secret(settings.calcom.webhook_secret):
        return ("Zoom's webhooks name no booking: the demo books through Cal.com, set NOSHOW_CALCOM_WEBHOOK_SECRET "
                "too")
    return None


def _sign(key: str, event: str, p: Person, start: datetime, **obj: Any) -> Signed:
    meeting = meeting_id(p)
    body = json.dumps({"event": event, "event_ts": int(time.time() * 1000), "payload": {
        "account_id": "DEMOaccount", "object": {
            "id": meeting, "uuid": f"{meeting}-demo==", "host_id": HOST_ID, "topic": "Consultation", "type": 2,
            "start_time": iso(start), "timezone": "UTC", "duration": 30, **obj}}}).encode()
    ts = str(int(time.time()))
    signature = hmac.new(key.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {"content-type": "application/json", "x-zm-signature": f"v0={signature}",
                  "x-zm-request-timestamp": ts}, ""


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _sign(key, "meeting.ended", p, start, end_time=iso(datetime.now(UTC).replace(microsecond=0)))


def steps(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> list[Delivery]:
    join = f"https://us02web.zoom.us/j/{meeting_id(p)}?pwd=ZGVtbw"
    host = {"participant": {"user_id": HOST_ID, "id": HOST_ID, "user_name": "Host", "participant_uuid": "P-HOST",
                            "join_time": iso(start), "email": "", "registrant_id": ""}}
    return [Delivery("booked", "calcom", calcom.booking(secret(settings.calcom.webhook_secret) or "", p, start, end,
                                                        location=join)),
            Delivery("joined", "zoom", _sign(key, "meeting.participant_joined", p, start, **host),
                     after_stage="watching"),
            Delivery("missed", "zoom", missed(settings, key, p, start, end))]


SOURCE = DemoSource("zoom", "NOSHOW_ZOOM_SECRET_TOKEN", lambda s: secret(s.zoom.secret_token), lambda _: "7",
                    "30min", missed, needs=needs, source="calcom", steps=steps)
