"""Acceptance: each appointment system's own deliveries, through the API into a real Temporal worker, become the
right case kinds with the right words. A no-show, a late cancel (inside the 24 h window), an early cancellation
and a reschedule are each driven the way the system really reaches the engine, against its fake. And for a
system holding a calendar, a rebooking whose slot was taken between offer and booking is refused and re-offered,
with nothing double-booked on the fake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from temporalio.client import Client

from connectors.fhir.resources import CANCEL_REASON_SYSTEM
from connectors.inbound import opt_dt
from domain.ids import case_id_for
from tests.e2e.appointment_helpers import (
    SCENARIOS,
    System,
    assert_kind,
    polled,
    scenario_start,
    system_stack,
    templates,
)
from tests.e2e.provider_helpers import PUBLIC_BASE_URL, ProviderStack, iso
from tests.fakes.acuity_fake import FakeAcuity, acuity_time
from tests.fakes.fhir_fake import FakeFhir
from tests.fakes.mindbody_fake import FakeMindbody
from tests.fakes.square_fake import LOCATION as SQUARE_LOCATION
from tests.fakes.square_fake import SERVICE as SQUARE_SERVICE
from tests.fakes.square_fake import FakeSquare, booking_event, square_signature
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import reconcile_now

pytestmark = [pytest.mark.timeout(120)]

ACUITY_USER, ACUITY_KEY, ACUITY_TYPE = "11145481", "acuity-e2e-api-key", "1"
SQUARE_TOKEN, SQUARE_KEY = "EAAAl-e2e-token", "square-e2e-signature-key"
FHIR_SCOPES = "system/Appointment.rs system/Appointment.cu system/Patient.r system/Slot.rs system/Schedule.rs"
FHIR_SCHEDULE = "sched-e2e"
MINDBODY_KEY, MINDBODY_MINUTES = "mindbody-e2e-message-signature-key", 60  # the calendar's default slot

# ---------------------------------------------------------------------------- Acuity: signed form pings


def acuity_env(fake: FakeAcuity) -> dict[str, str]:
    return {"NOSHOW_ACUITY_USER_ID": ACUITY_USER, "NOSHOW_ACUITY_API_KEY": ACUITY_KEY,
            "NOSHOW_ACUITY_BASE_URL": fake.base_url, "NOSHOW_ACUITY_APPOINTMENT_TYPE_ID": ACUITY_TYPE,
            "NOSHOW_CALENDAR_PROVIDER": "acuity"}


async def acuity_ping(stack: ProviderStack, action: str, row: dict[str, Any]) -> str:
    """The ping Acuity posts (https://developers.acuityscheduling.com/docs/webhooks), signed X-Acuity-Signature."""
    body = urlencode({"action": action, "id": str(row["id"]), "calendarID": str(row["calendarID"]),
                      "appointmentTypeID": str(row["appointmentTypeID"])}).encode()
    signature = base64.b64encode(hmac.new(ACUITY_KEY.encode(), body, hashlib.sha256).digest()).decode()
    r = await stack.http.post("/webhooks/acuity", content=body, headers={
        "content-type": "application/x-www-form-urlencoded", "x-acuity-signature": signature})
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert events and all(e["status"] == "accepted" for e in events), events
    return str(events[0]["case_id"])


async def acuity_case(stack: ProviderStack, fake: FakeAcuity, scenario: str, zone: str) -> tuple[str, datetime]:
    """The case one scenario makes, and the end of the appointment as it stands last (moved, for a reschedule)."""
    start = scenario_start(scenario)
    row = fake.add_appointment(ACUITY_TYPE, start, timezone=zone)
    case_id = await acuity_ping(stack, "scheduled", row)
    await stack.reach(case_id, "watching", "checking", "recovering", "offering", "awaiting_review")
    if scenario == "no_show":
        row.update(canceled=True, noShow=True)  # an admin cancel with the no-show flag, as Acuity records it
        action = "changed"
    elif scenario in ("late_cancel", "cancellation"):
        row.update(canceled=True, noShow=False)
        action = "canceled"
    else:
        start += timedelta(days=1)
        row["datetime"] = acuity_time(start)
        action = "rescheduled"
    assert await acuity_ping(stack, action, row) == case_id
    return case_id, start + timedelta(minutes=fake.minutes)


def acuity_take(fake: FakeAcuity, at: datetime) -> None:
    fake.open_times[ACUITY_TYPE].remove(at)
    fake.add_appointment(ACUITY_TYPE, at, email="someone.else@example.com")


def acuity_holders(fake: FakeAcuity, at: datetime) -> list[str]:
    return [str(a["email"]) for a in fake.appointments.values() if opt_dt(a["datetime"]) == at and not a["canceled"]]


# ---------------------------------------------------------------------------- Square: signed booking notifications


def square_env(fake: FakeSquare) -> dict[str, str]:
    return {"NOSHOW_SQUARE_ACCESS_TOKEN": SQUARE_TOKEN, "NOSHOW_SQUARE_BASE_URL": fake.base_url,
            "NOSHOW_SQUARE_SIGNATURE_KEY": SQUARE_KEY, "NOSHOW_SQUARE_LOCATION_ID": SQUARE_LOCATION,
            "NOSHOW_SQUARE_SERVICE_VARIATION_ID": SQUARE_SERVICE, "NOSHOW_CALENDAR_PROVIDER": "square"}


async def square_notify(stack: ProviderStack, booking: dict[str, Any], kind: str) -> str:
    """booking.created / booking.updated as Square posts it, signed over the notification URL + body
    (https://developer.squareup.com/docs/webhooks/step3validate)."""
    body = booking_event(booking, kind)
    signature = square_signature(SQUARE_KEY, PUBLIC_BASE_URL + "/webhooks/square", body)
    r = await stack.http.post("/webhooks/square", content=body, headers={
        "content-type": "application/json", "x-square-hmacsha256-signature": signature})
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert events and all(e["status"] == "accepted" for e in events), events
    return str(events[0]["case_id"])


async def square_case(stack: ProviderStack, fake: FakeSquare, scenario: str, zone: str) -> tuple[str, datetime]:
    start = scenario_start(scenario)
    customer = fake.add_customer(f"CUST{uuid.uuid4().hex[:10].upper()}", given_name="Pat", family_name="Example",
                                 email_address=f"pat-{uuid.uuid4().hex[:8]}@example.com",
                                 phone_number="+15551230002")
    booking = fake.add_booking(customer, start)
    case_id = await square_notify(stack, booking, "booking.created")
    await stack.reach(case_id, "watching", "checking", "recovering", "offering", "awaiting_review")
    if scenario == "no_show":
        fake.set_status(booking["id"], "NO_SHOW")
    elif scenario == "business_cancel":
        fake.set_status(booking["id"], "CANCELLED_BY_SELLER")
    elif scenario in ("late_cancel", "cancellation"):
        fake.set_status(booking["id"], "CANCELLED_BY_CUSTOMER")
    else:
        # a reschedule in Square is the same booking ACCEPTED at a new start_at
        start += timedelta(days=1)
        booking = fake.set_status(booking["id"], "ACCEPTED")
        booking["start_at"] = iso(start)
    assert await square_notify(stack, booking, "booking.updated") == case_id
    return case_id, start + timedelta(minutes=fake.minutes)


def square_take(fake: FakeSquare, at: datetime) -> None:
    fake.open_times.remove(at)
    fake.add_booking(fake.add_customer("CUSTSOMEONEELSE"), at)


def square_holders(fake: FakeSquare, at: datetime) -> list[str]:
    return [b["customer_id"] for b in fake.bookings.values()
            if opt_dt(b["start_at"]) == at and b["status"] == "ACCEPTED"]


# ---------------------------------------------------------------------------- Mindbody: signed Webhooks API deliveries


def mindbody_env(fake: FakeMindbody) -> dict[str, str]:
    return {"NOSHOW_MINDBODY_SIGNATURE_KEY": MINDBODY_KEY, "NOSHOW_MINDBODY_API_KEY": fake.api_key,
            "NOSHOW_MINDBODY_SITE_ID": fake.site_id, "NOSHOW_MINDBODY_USERNAME": fake.username,
            "NOSHOW_MINDBODY_PASSWORD": fake.password, "NOSHOW_MINDBODY_BASE_URL": f"{fake.base_url}/public/v6",
            "NOSHOW_CALENDAR_PROVIDER": "mindbody"}


async def mindbody_deliver(stack: ProviderStack, fake: FakeMindbody, kind: str, appointment_id: int) -> str:
    """An appointmentBooking event as the Webhooks API posts it (https://developers.mindbodyonline.com/
    WebhooksDocumentation), read from the fake's appointment, signed X-Mindbody-Signature."""
    a = fake.appointments[appointment_id]
    client = fake.clients[a["ClientId"]]
    body = json.dumps({
        "messageId": uuid.uuid4().hex, "eventId": kind, "eventSchemaVersion": 1,
        "eventInstanceOriginationDateTime": iso(datetime.now(UTC)), "eventData": {
            "siteId": int(fake.site_id), "appointmentId": appointment_id, "status": a["Status"],
            "locationId": a["LocationId"], "sessionTypeId": a["SessionTypeId"], "staffId": a["StaffId"],
            "clientId": a["ClientId"], "clientFirstName": client["FirstName"], "clientLastName": client["LastName"],
            "startDateTime": a["StartDateTime"], "endDateTime": a["EndDateTime"]}}).encode()
    signature = base64.b64encode(hmac.new(MINDBODY_KEY.encode(), body, hashlib.sha256).digest()).decode()
    r = await stack.http.post("/webhooks/mindbody", content=body, headers={
        "content-type": "application/json", "x-mindbody-signature": f"sha256={signature}"})
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert events and all(e["status"] == "accepted" for e in events), events
    return str(events[0]["case_id"])


async def mindbody_case(stack: ProviderStack, fake: FakeMindbody, scenario: str, zone: str
                        ) -> tuple[str, datetime]:
    start = scenario_start(scenario)
    client_id = fake.add_client("Pat", "Example", f"pat-{uuid.uuid4().hex[:8]}@example.com", "+15551230003")
    appointment_id = fake.add_appointment(client_id, start, minutes=MINDBODY_MINUTES)
    case_id = await mindbody_deliver(stack, fake, "appointmentBooking.created", appointment_id)
    await stack.reach(case_id, "watching", "checking", "recovering", "offering", "awaiting_review")
    row = fake.appointments[appointment_id]
    if scenario == "no_show":
        row["Status"] = "NoShow"
    elif scenario == "late_cancel":
        row["Status"] = "LateCancelled"
    elif scenario == "cancellation":
        row["Status"] = "Cancelled"
    else:
        start += timedelta(days=1)
        row.update(StartDateTime=fake.wall(start), EndDateTime=fake.wall(start + timedelta(minutes=MINDBODY_MINUTES)))
    assert await mindbody_deliver(stack, fake, "appointmentBooking.updated", appointment_id) == case_id
    return case_id, start + timedelta(minutes=MINDBODY_MINUTES)


def mindbody_open(fake: FakeMindbody, times: list[datetime]) -> None:
    fake.open_window(times[0], times[-1] + timedelta(minutes=MINDBODY_MINUTES), minutes=MINDBODY_MINUTES)


def mindbody_take(fake: FakeMindbody, at: datetime) -> None:
    fake.add_appointment(fake.add_client("Someone", "Else", "someone.else@example.com", "+15551230009"), at,
                         minutes=MINDBODY_MINUTES)


def mindbody_holders(fake: FakeMindbody, at: datetime) -> list[str]:
    return [str(a["ClientId"]) for a in fake.appointments.values()
            if fake.read(a["StartDateTime"]) == at and a["Status"] not in ("Cancelled", "LateCancelled")]


# ---------------------------------------------------------------------------- FHIR: polled, one reconcile run each


def fhir_env(fake: FakeFhir) -> dict[str, str]:
    """The FHIR server is the calendar too: offers from its Schedule's free Slots, bookings as Appointments."""
    return {"NOSHOW_FHIR_BASE_URL": fake.base_url, "NOSHOW_FHIR_SCHEDULE_ID": FHIR_SCHEDULE,
            "NOSHOW_FHIR_ACCESS_TOKEN": fake.static_token("e2e-token", FHIR_SCOPES),
            "NOSHOW_CALENDAR_PROVIDER": "fhir"}


async def fhir_case(stack: ProviderStack, fake: FakeFhir, scenario: str, zone: str) -> tuple[str, datetime]:
    """The front desk's changes on the FHIR server, each found by one run of the `fhir` reconcile Schedule."""
    start = scenario_start(scenario)
    # the first run is the baseline, which starts no case for an appointment already begun: let it pass first
    await reconcile_now(stack.client, "fhir", 30)
    patient = fake.add_patient(phone="+15551230004", email=f"pat-{uuid.uuid4().hex[:8]}@example.com")
    aid = fake.add_appointment(patient, start)
    await reconcile_now(stack.client, "fhir", 30)
    case_id = case_id_for("fhir", aid, stack.deps.settings.auth.id_salt)
    await stack.reach(case_id, "watching", "checking", "recovering", "offering", "awaiting_review")
    if scenario == "no_show":
        fake.update_appointment(aid, status="noshow")
    elif scenario == "business_cancel":
        # the provider called it off: a `prov` reason (the practitioner is unavailable)
        fake.update_appointment(aid, status="cancelled", cancelationReason={"coding": [
            {"system": CANCEL_REASON_SYSTEM, "code": "prov"}]})
    elif scenario in ("late_cancel", "cancellation"):
        # the coded reason says the patient cancelled (https://hl7.org/fhir/R4/valueset-appointment-cancellation-reason.html)
        fake.update_appointment(aid, status="cancelled", cancelationReason={"coding": [
            {"system": CANCEL_REASON_SYSTEM, "code": "pat"}]})
    else:
        start += timedelta(days=1)
        fake.update_appointment(aid, start=start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                end=(start + timedelta(minutes=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    await reconcile_now(stack.client, "fhir", 30)
    return case_id, start + timedelta(minutes=30)


def fhir_open(fake: FakeFhir, times: list[datetime]) -> None:
    for at in times:
        fake.add_slot(FHIR_SCHEDULE, at)


def fhir_take(fake: FakeFhir, at: datetime) -> None:
    """Another patient is booked on the Slot at `at` (the front desk's booking marks the Slot busy)."""
    [sid] = [k for k, v in fake.slots.items() if opt_dt(v["start"]) == at]
    fake.slots[sid]["status"] = "busy"
    other = fake.add_patient(phone="+15551230008")
    aid = fake.add_appointment(other, at)
    fake.update_appointment(aid, slot=[{"reference": f"Slot/{sid}"}])


def fhir_holders(fake: FakeFhir, at: datetime) -> list[str]:
    return [str(a["id"]) for a in fake.appointments.values()
            if opt_dt(a["start"]) == at and a["status"] not in ("cancelled", "entered-in-error")]


# ---------------------------------------------------------------------------- the systems


def _acuity_open(fake: FakeAcuity, times: list[datetime]) -> None:
    fake.open_times[ACUITY_TYPE] = list(times)


def _square_open(fake: FakeSquare, times: list[datetime]) -> None:
    fake.open_times = list(times)


SYSTEMS = [
    System("acuity", lambda: FakeAcuity(ACUITY_USER, ACUITY_KEY), acuity_env, _acuity_open, acuity_case,
           acuity_take, acuity_holders),
    System("square", lambda: FakeSquare(SQUARE_TOKEN), square_env, _square_open, square_case, square_take,
           square_holders),
    System("mindbody", FakeMindbody, mindbody_env, mindbody_open, mindbody_case, mindbody_take, mindbody_holders),
    System("fhir", FakeFhir, fhir_env, fhir_open, fhir_case, fhir_take, fhir_holders),
]
CALENDARS = [s for s in SYSTEMS if s.take is not None]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s.name)
async def test_each_system_delivery_becomes_the_right_case_kind(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System,
        scenario: str) -> None:
    _, zone = daytime_contact()
    async with system_stack(system, client, task_queue, tmp_path, monkeypatch, zone) as (stack, fake):
        await assert_kind(stack, await system.case(stack, fake, scenario, zone), scenario)


@pytest.mark.parametrize("system", CALENDARS, ids=lambda s: s.name)
async def test_a_taken_slot_is_refused_and_offered_again(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System) -> None:
    assert system.take is not None and system.holders is not None
    _, zone = daytime_contact()
    async with system_stack(system, client, task_queue, tmp_path, monkeypatch, zone, free=12) as (stack, fake):
        case_id, _ = await system.case(stack, fake, "no_show", zone)
        if (await stack.reach(case_id, "recovering", "awaiting_review")).stage.value == "awaiting_review":
            await stack.approve(case_id)
        await polled(lambda: templates(stack, case_id), lambda t: len(t) >= 1)
        await stack.reply(case_id, "yes")
        offered = await stack.reach(case_id, "offering")
        taken = offered.offered[0].start
        system.take(fake, taken)  # someone else books the first offered time between the offer and the pick
        await stack.reply(case_id, "1")
        again = await polled(lambda: templates(stack, case_id), lambda t: "slot_taken" in t)
        assert again[-1] == "slot_taken" and "slot was taken; offering again" in [
            t.what for t in (await stack.state(case_id)).timeline]
        reoffer = await stack.reach(case_id, "offering")
        assert reoffer.offered and taken not in {s.start for s in reoffer.offered}
        assert reoffer.new_appointment_id is None
    assert len(system.holders(fake, taken)) == 1  # the other customer's booking alone: nothing double-booked


@pytest.mark.parametrize("system", [s for s in SYSTEMS if s.name in ("square", "fhir")], ids=lambda s: s.name)
async def test_a_cancellation_by_the_business_is_not_the_customers(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System) -> None:
    """Square's CANCELLED_BY_SELLER and a FHIR `prov` cancellation reason, inside the late-cancel window: a
    business cancellation that apologises and offers a new time, never a late cancel nor "your cancellation"."""
    _, zone = daytime_contact()
    async with system_stack(system, client, task_queue, tmp_path, monkeypatch, zone) as (stack, fake):
        case_id, _ = await system.case(stack, fake, "business_cancel", zone)
        state = await stack.reach(case_id, "recovering", "offering", "awaiting_review", "unrecovered", "cancelled")
        assert state.kind.value == "business_cancel" and state.verdict == "cancelled", (state.kind, state.timeline)
        sent = await polled(lambda: templates(stack, case_id), lambda t: len(t) >= 1)
        assert sent[0] == "missed_first.business_cancel", sent
