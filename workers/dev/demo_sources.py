"""`noshow demo --source NAME`: one missed appointment told to the running stack in a provider's own webhook
dialect, signed with the secret the stack is configured with, then recovered end to end: the customer answers,
is offered times from the engine's calendar (the provider itself when NOSHOW_CALENDAR_PROVIDER names it, e.g. a
Cal.com account or its fake), picks one and the case confirms.

A source is one entry of `SOURCES`: its route, the variable holding its webhook secret, the calendar id its
appointments carry, and how it signs and phrases "booked" and "missed". Payload shapes follow each provider's
webhook reference (Cal.com https://cal.com/docs/developing/guides/automation/webhooks, ActiveCampaign
https://developers.activecampaign.com/page/webhooks).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.settings import secret
from workers.dev.demo import DemoRefused, daytime_contact
from workers.settings import Settings


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str
    zone: str
    ref: str  # the provider's id for the booking / deal


Signed = tuple[bytes, dict[str, str], str]  # body, headers, query


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------- Cal.com


def _calcom_sign(key: str, doc: dict[str, Any]) -> Signed:
    body = json.dumps(doc).encode()
    return body, {"content-type": "application/json",
                  "x-cal-signature-256": hmac.new(key.encode(), body, hashlib.sha256).hexdigest()}, ""


def calcom_booked(key: str, p: Person, start: datetime, end: datetime) -> Signed | None:
    return _calcom_sign(key, {"triggerEvent": "BOOKING_CREATED", "createdAt": _iso(datetime.now(UTC)), "payload": {
        "uid": p.ref, "bookingId": 91, "eventTypeId": 7, "type": "30min", "title": f"30min with {p.name}",
        "startTime": _iso(start), "endTime": _iso(end), "status": "ACCEPTED",
        "organizer": {"id": 5, "name": "Dr. Lee", "email": "lee@example.com", "timeZone": p.zone},
        "attendees": [{"name": p.name, "email": p.email, "timeZone": p.zone, "language": {"locale": "en"}}],
        "responses": {"name": {"value": p.name}, "email": {"value": p.email}},
        "smsReminderNumber": p.phone, "location": "integrations:daily"}})


def calcom_missed(key: str, p: Person, start: datetime, end: datetime) -> Signed:
    return _calcom_sign(key, {"triggerEvent": "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "createdAt": _iso(datetime.now(UTC)),
                              "payload": {"title": f"30min with {p.name}", "bookingId": 91, "bookingUid": p.ref,
                                          "startTime": _iso(start), "endTime": _iso(end),
                                          "attendees": [{"email": p.email, "noShow": True}], "eventType": {"id": 7},
                                          "message": "Guest didn't join the call"}})


# ---------------------------------------------------------------------------- ActiveCampaign


def activecampaign_missed(key: str, p: Person, start: datetime, end: datetime) -> Signed:
    first, _, last = p.name.partition(" ")
    form = {"type": "deal_update", "date_time": start.astimezone(UTC).isoformat(), "initiated_from": "admin",
            "deal[id]": p.ref, "deal[title]": "Consultation", "deal[stageid]": "7", "deal[stage_title]": "Missed",
            "deal[contactid]": "39", "deal[contact_email]": p.email, "deal[contact_firstname]": first,
            "deal[contact_lastname]": last, "contact[phone]": p.phone, "updated_fields[0]": "stage"}
    return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}, urlencode({"token": key})


# ---------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class DemoSource:
    route: str
    secret_env: str
    secret: Callable[[Settings], str | None]
    calendar_id: str
    appointment_type: str
    missed: Callable[[str, Person, datetime, datetime], Signed]
    booked: Callable[[str, Person, datetime, datetime], Signed | None] = lambda *_: None


SOURCES: dict[str, DemoSource] = {
    "calcom": DemoSource("calcom", "NOSHOW_CALCOM_WEBHOOK_SECRET", lambda s: secret(s.calcom.webhook_secret), "7",
                         "30min", calcom_missed, calcom_booked),
    "activecampaign": DemoSource("activecampaign", "NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN",
                                 lambda s: secret(s.activecampaign.webhook_token), "deals", "deal",
                                 activecampaign_missed),
}


def source_refusal(settings: Settings, name: str) -> str | None:
    """Why the demo cannot run with this source, in one line, or None."""
    from domain.models import Appointment, Contact
    from policies.loader import PolicyError, load_policy, source_ignore_reason

    source = SOURCES.get(name)
    if source is None:
        return f"unknown demo source {name!r}; choose one of: {', '.join(sorted(SOURCES))}"
    if not source.secret(settings):
        return f"the stack has no {name} webhook: set {source.secret_env} (the same value for the stack and the demo)"
    try:
        policy = load_policy(settings.policy.file)
    except PolicyError as exc:
        return f"the policy does not load ({len(exc.problems)} problem(s)); run `noshow policy check`"
    now = datetime.now(UTC)
    probe = Appointment(source=name, appointment_id="demo-probe", appointment_type=source.appointment_type,
                        calendar_id=source.calendar_id, start=now, end=now + timedelta(minutes=30),
                        contact=Contact(contact_id=f"{name}:demo-probe"))
    reason = source_ignore_reason(policy, probe)
    if reason:
        return f"the policy {policy.version!r} does not watch {name} appointments ({reason}); add the source to it"
    return None


async def _stage(http: httpx.AsyncClient, admin: dict[str, str], case_id: str, stages: set[str],
                 timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = await http.get(f"/cases/{case_id}", headers=admin)
        stage = str(r.json().get("stage", "")) if r.status_code == 200 else ""
        if stage in stages or time.monotonic() > deadline:
            return stage
        await asyncio.sleep(0.3)


async def run_source_demo(settings: Settings, name: str, echo: Callable[[str], None], timeout: float = 90,
                          http: httpx.AsyncClient | None = None) -> bool:
    """One missed appointment from `name`, recovered end to end. `http` is the API (default: the running one)."""
    refusal = source_refusal(settings, name)
    if refusal:
        raise DemoRefused(refusal)
    source, key = SOURCES[name], SOURCES[name].secret(settings) or ""
    own = http is None
    api = http or httpx.AsyncClient(base_url=f"http://{settings.api.host}:{settings.api.port}", timeout=30)
    admin = {"Authorization": f"Bearer {secret(settings.auth.admin_token) or ''}"}
    try:
        try:
            await api.get("/health")
        except httpx.HTTPError:
            raise ConnectionError(f"cannot reach the API at {api.base_url}; start it with `make run` first") from None
        phone, zone = daytime_contact()
        person = Person("Pat Example", f"demo-{uuid.uuid4().hex[:8]}@example.com", phone, zone, uuid.uuid4().hex[:22])
        now = datetime.now(UTC).replace(microsecond=0)
        start, end = now - timedelta(minutes=10), now + timedelta(minutes=20)
        case_id = ""
        for step, signed in (("booked", source.booked(key, person, start, end)),
                             ("missed", source.missed(key, person, start, end))):
            if signed is None:
                continue
            body, headers, query = signed
            r = await api.post(f"/webhooks/{source.route}" + (f"?{query}" if query else ""), content=body,
                               headers={**headers, "prefer": "wait=30"})  # its case id is read from the answer
            events = r.json().get("events") if r.status_code in (200, 202) else None
            first = (events or [{}])[0]
            case_id = first.get("case_id") or case_id
            echo(f"  {name} {step:8} -> HTTP {r.status_code} {first.get('status', '')} {case_id}".rstrip())
        if not case_id:
            echo("the stack started no case")
            return False
        stages = [("recovering", "yes, can I come another day?"), ("offering", "1"), ("confirmed", None)]
        ok = True
        for stage, reply in stages:
            reached = await _stage(api, admin, case_id, {stage}, timeout)
            echo(f"  {stage:12} {'ok' if reached == stage else 'stuck at ' + (reached or '?')}")
            if reached != stage:
                ok = False
                break
            if reply:
                await api.post("/inbound/local", headers=admin, json={"case_id": case_id, "text": reply})
        return ok
    finally:
        if own:
            await api.aclose()
