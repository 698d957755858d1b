"""`noshow demo`: seed the local calendar and CRM, send signed events and simulated replies to the running
stack, and show cases in every state. It talks to the API exactly as a booking form or a phone system would.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.local.alerts import LocalAlerts
from connectors.local.calendar import LocalCalendar
from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from connectors.settings import secret
from connectors.standard_webhooks import sign
from policies.zones import zone_or
from workers.settings import Settings

DEMO_SOURCE = "demo"

# (phone, zone) pairs whose area-code zone is the zone itself, spread round the globe
_DAYTIME_CANDIDATES = [
    ("+12125550100", "America/New_York"), ("+18085550100", "Pacific/Honolulu"),
    ("+551123456789", "America/Sao_Paulo"), ("+442071234567", "Europe/London"),
    ("+74951234567", "Europe/Moscow"), ("+97142123456", "Asia/Dubai"), ("+861012345678", "Asia/Shanghai"),
    ("+81312345678", "Asia/Tokyo"), ("+61212345678", "Australia/Sydney"),
]


def daytime_contact(now: datetime | None = None) -> tuple[str, str]:
    """A phone number and time zone where it is mid-day now, so the real send windows allow a message.

    The demo and the tests run at any hour; rather than loosening the law in the policy, they text someone
    who is awake (the numbers are fictional).
    """

    now = now or datetime.now(UTC)
    for phone, zone in _DAYTIME_CANDIDATES:
        if 9 <= now.astimezone(zone_or(zone, "UTC")).hour < 18:
            return phone, zone
    raise RuntimeError("no candidate zone is in daytime now")  # cannot happen: the gaps are under 9 hours


def _contact(n: int, name: str, locale: str = "en") -> dict[str, Any]:
    phone, zone = daytime_contact()
    return {"contact_id": f"demo-contact-{n}", "name": name, "phone": phone[:-2] + f"{n:02d}",
            "email": f"demo{n}@example.com", "timezone": zone, "locale": locale}


def _appointment(key: str, contact: dict[str, Any], *, minutes_ago: int = 60, value: float = 150,
                 appointment_type: str = "consultation", calendar: str = "cal-dr-lee",
                 categories: list[str] | None = None, starts_in: int | None = None,
                 start: datetime | None = None) -> dict[str, Any]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    if start is None:
        start = now + timedelta(minutes=starts_in) if starts_in is not None else now - timedelta(minutes=minutes_ago)
    return {
        "source": DEMO_SOURCE, "appointment_id": f"demo-{key}-{uuid.uuid4().hex[:6]}",
        "appointment_type": appointment_type, "calendar_id": calendar, "owner_id": "owner-lee",
        "location_id": "downtown", "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
        "value": value, "contact": contact, "categories": categories or [],
    }


class DemoClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = f"http://{settings.api.host}:{settings.api.port}"
        self.secret = (secret(settings.auth.webhook_secret) or "").split(",")[0]
        self.http = httpx.AsyncClient(base_url=self.base, timeout=30)
        self.admin = {"Authorization": f"Bearer {secret(settings.auth.admin_token) or ''}"}

    async def event(self, type_: str, appointment: dict[str, Any], **extra: Any) -> dict[str, Any]:
        msg_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps({"type": type_, "timestamp": datetime.now(UTC).isoformat(), "data": {
            "event_id": msg_id, "type": type_, "occurred_at": datetime.now(UTC).isoformat(),
            "appointment": appointment, **extra}}).encode()
        ts = int(time.time())
        resp = await self.http.post("/webhooks/events", content=body, headers={
            "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.secret, msg_id, ts, body),
            "prefer": "wait=30"})  # the demo reads each event's case from its answer, however busy the stack
        resp.raise_for_status()
        return resp.json()  # type: ignore[no-any-return]

    async def reply(self, case_id: str, text: str, sender: str | None = None) -> dict[str, Any]:
        resp = await self.http.post("/inbound/local", json={"case_id": case_id, "text": text, "sender": sender},
                                    headers=self.admin)
        resp.raise_for_status()
        return resp.json()  # type: ignore[no-any-return]

    async def join_waitlist(self, contact: dict[str, Any], appointment_type: str, calendar_id: str) -> None:
        resp = await self.http.post("/waitlist", headers=self.admin, json={
            "contact": contact, "appointment_type": appointment_type, "calendar_id": calendar_id})
        resp.raise_for_status()

    async def backfill(self, backfill_id: str) -> dict[str, Any]:
        resp = await self.http.get(f"/backfills/{backfill_id}", headers=self.admin)
        return resp.json() if resp.status_code == 200 else {}  # type: ignore[no-any-return]

    async def wait_backfill(self, backfill_id: str, done: Callable[[dict[str, Any]], bool],
                            timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            st = await self.backfill(backfill_id)
            if done(st) or time.monotonic() > deadline:
                return st
            await asyncio.sleep(0.3)

    async def state(self, case_id: str) -> dict[str, Any]:
        resp = await self.http.get(f"/cases/{case_id}", headers=self.admin)
        return resp.json() if resp.status_code == 200 else {}  # type: ignore[no-any-return]

    async def wait_stage(self, case_id: str, stages: set[str], timeout: float) -> dict[str, Any]:
        return await self.wait_state(case_id, lambda st: st.get("stage") in stages, timeout)

    async def wait_state(self, case_id: str, done: Callable[[dict[str, Any]], bool],
                         timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            st = await self.state(case_id)
            if done(st) or time.monotonic() > deadline:
                return st
            await asyncio.sleep(0.3)

    async def decide(self, case_id: str, decision: str) -> None:
        st = await self.state(case_id)
        review = st.get("review") or {}
        await self.http.post(f"/reviews/{case_id}/decision", headers=self.admin,
                             json={"review_id": review.get("review_id", ""), "decision": decision})


def seed(settings: Settings) -> None:
    db = LocalDb(settings.storage.database)
    calendar = LocalCalendar(db)
    calendar.add_owner("owner-lee", "Dr. Lee", "cal-dr-lee")
    crm = LocalCrm(db)
    # people-owned CRM data the engine must never overwrite
    crm.seed_field("demo-contact-1", "-", "owner_notes", "Prefers mornings")
    crm.seed_field("demo-contact-1", "-", "billing_status", "current")


class DemoRefused(Exception):
    """The demo cannot run under this policy (its message says why, in one line)."""


def demo_refusal(settings: Settings) -> str | None:
    """Why the approved policy would ignore the demo's events, or None when it watches them."""
    from domain.models import Appointment, Contact
    from policies.loader import PolicyError, load_policy, source_ignore_reason

    try:
        policy = load_policy(settings.policy.file)
    except PolicyError as exc:
        return f"the policy does not load ({len(exc.problems)} problem(s)); run `noshow policy check`"
    now = datetime.now(UTC)
    probe = Appointment(source=DEMO_SOURCE, appointment_id="demo-probe", appointment_type="consultation",
                        calendar_id="cal-dr-lee", start=now, end=now + timedelta(minutes=30),
                        contact=Contact(contact_id="demo-probe"))
    reason = source_ignore_reason(policy, probe)
    if reason is None:
        return None
    return (f"the policy {policy.version!r} does not watch the demo's events ({reason}: source {DEMO_SOURCE!r}, "
            "calendar 'cal-dr-lee', type 'consultation'); add that source to it or run the demo with the shipped "
            "policy")


async def run_demo(settings: Settings, echo: Callable[[str], None], timeout: float = 90) -> bool:
    refusal = demo_refusal(settings)
    if refusal:
        raise DemoRefused(refusal)
    client = DemoClient(settings)
    try:
        await client.http.get("/health")
    except httpx.HTTPError:
        raise ConnectionError(f"cannot reach the API at {client.base}; start it with `make run` first") from None
    ready_by = asyncio.get_running_loop().time() + 60
    while (await client.http.get("/ready")).status_code != 200:  # the API is up before Temporal and the store
        if asyncio.get_running_loop().time() > ready_by:
            raise ConnectionError(f"the API at {client.base} is up but not ready (Temporal or the store)")
        await asyncio.sleep(0.5)
    seed(settings)
    echo("seeded the local calendar and CRM; sending signed events ...")
    db = LocalDb(settings.storage.database)
    calendar = LocalCalendar(db)
    cases: dict[str, str] = {}

    async def start(label: str, type_: str, appt: dict[str, Any], **extra: Any) -> str:
        out = await client.event(type_, appt, **extra)
        first = (out.get("events") or [{}])[0]
        case_id = first.get("case_id") or ""
        cases[label] = case_id
        shown = case_id or f"{first.get('status', '?')} ({first.get('reason')})"
        echo(f"  {label:28} {type_:32} -> {shown}")
        return case_id

    # attended: the front desk checked the customer in
    attended = _appointment("attended", _contact(4, "Sam Attended"))
    start_dt = datetime.fromisoformat(attended["start"])
    calendar.add_appointment(attended["appointment_id"], "cal-dr-lee", "owner-lee", "demo-contact-4",
                             "consultation", start_dt, start_dt + timedelta(minutes=30))
    calendar.add_signal(attended["appointment_id"], "check_in", start_dt, source="front_desk")
    await start("attended", "appointment.booked", attended)

    # before the appointment: one confirms by SMS; another, booked just over an hour ahead, gets the confirmation
    # and, seconds later, the one-hour reminder, then cancels by SMS. Booked before any offer is made, so no offer
    # holds a time these bookings then take (a choice of it would be refused as taken, rightly)
    confirmed = await start("confirmed booking", "appointment.booked",
                            _appointment("confirmed", _contact(13, "Cora Confirmed"), starts_in=3 * 24 * 60))
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, seconds=5)
    reminded = await start("reminded, cancelled by sms", "appointment.booked",
                           _appointment("reminded", _contact(14, "Remy Reminded"), start=soon))
    first = await start("first-time no-show", "appointment.no_show", _appointment("first", _contact(1, "Ana First")))
    repeat_contact = _contact(2, "Rui Repeat")
    for i in range(2):
        await start(f"earlier no-show {i + 1}", "appointment.no_show",
                    _appointment(f"repeat{i}", repeat_contact, minutes_ago=60 * 24 * (10 + i)))
    await asyncio.sleep(2)  # let the earlier verdicts land so the third counts as a repeat
    repeat = await start("repeat no-show", "appointment.no_show", _appointment("repeat", repeat_contact))
    high = await start("high-value no-show", "appointment.no_show",
                       _appointment("high", _contact(3, "Hal Highvalue"), value=2500, appointment_type="consultation"))
    # two people wait for a consultation with Dr. Lee: the late cancellation's slot is offered to them
    waiting = [_contact(11, "Wes Waiting"), _contact(12, "Wanda Waiting")]
    for person in waiting:
        await client.join_waitlist(person, "consultation", "cal-dr-lee")
    late = _appointment("late", _contact(5, "Lea Latecancel"), starts_in=180)
    await start("late cancellation", "appointment.booked", late)
    late_dt = datetime.fromisoformat(late["start"])
    calendar.add_appointment(late["appointment_id"], "cal-dr-lee", "owner-lee", "demo-contact-5", "consultation",
                             late_dt, late_dt + timedelta(minutes=30))
    cancelled = await client.event("appointment.cancelled", late)
    backfill_id = (cancelled.get("events") or [{}])[0].get("backfill_id") or ""
    echo(f"  {'freed slot -> waitlist':28} {'(late cancellation)':32} -> {backfill_id or 'not offered'}")
    resched = await start("reschedule request", "appointment.reschedule_requested",
                          _appointment("resched", _contact(6, "Ray Reschedule"), starts_in=24 * 60))
    optout = await start("opt-out", "appointment.no_show", _appointment("optout", _contact(7, "Otto Optout")))
    dispute = await start("dispute", "appointment.no_show", _appointment("dispute", _contact(8, "Dee Dispute")))
    unclear = await start("unclear attendance", "appointment.booked", _appointment("unclear", _contact(9, "Una Clear")))
    await start("unmanaged calendar", "appointment.no_show",
                _appointment("unmanaged", _contact(10, "Ivy Ignored"), calendar="personal-cal"))

    echo("simulating customer replies ...")
    for case_id, text in ((first, "yes, can I come another day?"), (optout, "STOP"), (dispute, "I was there!")):
        await client.wait_stage(case_id, {"recovering"}, timeout)
        await client.reply(case_id, text)
    await client.wait_stage(first, {"offering"}, timeout)
    await client.reply(first, "2")
    await client.wait_stage(resched, {"offering"}, timeout)
    await client.reply(resched, "1")
    await client.wait_stage(high, {"awaiting_review"}, timeout)
    await client.decide(high, "approve")
    if backfill_id:  # the second person on the waitlist answers first: the slot is theirs
        await client.wait_backfill(backfill_id, lambda st: len(st.get("offered") or []) == len(waiting), timeout)
        await client.reply(backfill_id, "Yes, I'll take it!", sender=waiting[1]["phone"])
    # before the appointment, after the others so their offers are answered while fresh
    await client.wait_state(confirmed, lambda st: st.get("confirmation") == "sent", timeout)
    await client.reply(confirmed, "C")
    await client.wait_state(reminded, lambda st: (st.get("reminders_sent") or 0) >= 1, timeout)
    await client.reply(reminded, "please cancel my appointment")

    expected = {
        "attended": {"attended"}, "first-time no-show": {"confirmed"}, "repeat no-show": {"awaiting_review"},
        "high-value no-show": {"recovering", "offering"}, "late cancellation": {"recovering", "offering"},
        "reschedule request": {"confirmed"}, "opt-out": {"opted_out"}, "dispute": {"awaiting_review"},
        "unclear attendance": {"awaiting_review"},
    }
    echo("\ncase                         stage            expected")
    ok = True
    for label, stages in expected.items():
        st = await client.wait_stage(cases[label], stages, timeout)
        good = st.get("stage") in stages
        ok &= good
        echo(f"  {label:28} {st.get('stage', '?'):16} {'ok' if good else 'expected ' + '/'.join(sorted(stages))}")
    echo(f"  {'unmanaged calendar':28} {'ignored':16} ok")
    before = {  # label: (the state it must reach, what the summary shows, what was expected)
        "confirmed booking": (lambda st: st.get("stage") == "watching" and st.get("confirmation") == "confirmed",
                              "watching, confirmed"),
        "reminded, cancelled by sms": (
            lambda st: (st.get("reminders_sent") or 0) >= 1 and st.get("confirmation") == "cancelled"
            and st.get("stage") in ("recovering", "offering"), "reminded, cancelled, recovering"),
    }
    for label, (done, wanted) in before.items():
        st = await client.wait_state(cases[label], done, timeout)
        good = done(st)
        ok &= good
        shown = f"{st.get('stage', '?')}, {st.get('confirmation', '?')}, reminders {st.get('reminders_sent', 0)}"
        echo(f"  {label:28} {shown:16} {'ok' if good else 'expected ' + wanted}")
    alerts = LocalAlerts(db)
    deadline = time.monotonic() + timeout
    while not (alert := next((a for a in alerts.alerts(kind="high_value_miss") if a["case_id"] == high), None)):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    good = alert is not None and alert["owner_id"] == "owner-lee"
    ok &= good
    echo(f"  {'owner alert (high value)':28} {'alerted' if alert else 'none':16} "
         f"{'ok' if good else 'expected a high_value_miss alert to owner-lee'}")
    filled = await client.wait_backfill(backfill_id, lambda st: st.get("stage") not in (None, "backfilling"),
                                        timeout) if backfill_id else {}
    good = filled.get("stage") == "backfilled"
    ok &= good
    shown = filled.get("stage", "not started")
    echo(f"  {'waitlist backfill':28} {shown:16} {'ok' if good else 'expected backfilled'}")
    echo("\nOpen Temporal UI to filter by NoShowStage / NoShowNeedsReview; `noshow report` for the numbers.")
    await client.http.aclose()
    _ = (repeat, unclear)
    return ok
