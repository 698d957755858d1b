"""Each scheduling/CRM source switched from local to its provider fake, end to end, with the calendar and CRM
write-back selected by settings (NOSHOW_CALENDAR_PROVIDER, NOSHOW_CRM_PROVIDER): a signed webhook or notification
in the provider's own format starts a no-show case, slots come from that provider's availability, the customer
picks one, the booking is written to that provider (asserted on the fake's recorded requests), and the outcome
reaches the CRM (local or the HubSpot fake). Real Temporal dev server, real worker, the real API in process.

Plus, for every webhook route not covered in test_providers_e2e.py: forged and stale deliveries get 401 and start
nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.client import Client

from connectors.google.client import GoogleCalendarClient
from connectors.local.reconcile_state import SqliteCursorStore
from connectors.outlook.client import OutlookClient
from domain.case import CaseState
from domain.ids import address_key_for, case_id_for
from policies.schema import PolicyFile
from tests.e2e.provider_helpers import (
    CALENDLY_EVENT_TYPE,
    GOOGLE_CALENDAR,
    GRAPH_STATE,
    GRAPH_USER,
    PARSE_TOKEN,
    PUBLIC_BASE_URL,
    ZOOM_SECRET,
    ProviderStack,
    calcom_api_env,
    calcom_booking,
    calcom_guest_no_show,
    calcom_headers,
    calendly_api_env,
    calendly_headers,
    calendly_invitee_created,
    calendly_invitee_uri,
    calendly_no_show,
    dumps,
    future_hours,
    google_api_env,
    google_ping_headers,
    graph_api_env,
    graph_notification,
    hubspot_api_env,
    hubspot_headers,
    hubspot_meeting_outcome,
    inbound_env,
    iso,
    provider_stack,
    slot_around_now,
    writeback_policy,
    zoom_headers,
)
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeGoogleCalendar, FakeGraph, FakeHubSpot
from tests.helpers import default_program, eventually
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(180)]

T = TypeVar("T")
PROTECTED_PROPERTIES = {"owner_notes", "billing_status", "noshow_recovery_status"}


async def polled(fn: Callable[[], T], check: Callable[[T], bool], timeout: float = 30) -> T:
    """`eventually` for a synchronous read (a fake's record, a local store)."""
    return await eventually(lambda: asyncio.sleep(0, fn()), check, timeout=timeout)


async def post(stack: ProviderStack, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    r = await stack.http.post(path, content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def case_of(ack: dict[str, Any]) -> str:
    events = ack["events"]
    assert events and all(e["status"] == "accepted" for e in events), ack
    return str(events[0]["case_id"])


async def recover_and_pick(stack: ProviderStack, case_id: str, free: list[datetime] | None = None) -> CaseState:
    """The customer answers the first message, gets the offer and picks the first slot: the case books it."""
    await stack.reach(case_id, "recovering")
    await polled(lambda: stack.deps.outbox.messages(case_id), lambda m: len(m) >= 1)
    await stack.reply(case_id, "yes")
    offered = await stack.reach(case_id, "offering")
    assert offered.offered, offered
    if free is not None:  # offered from the provider's availability only
        assert {s.start for s in offered.offered} <= set(free), (offered.offered, free)
    await stack.reply(case_id, "1")
    final = await stack.reach(case_id, "confirmed")
    assert final.new_appointment_start == offered.offered[0].start
    return final


def hubspot_contact(fake: FakeHubSpot, record_id: str, email: str, phone: str | None = None) -> None:
    """A contact as the portal has it, with fields people own that the engine must never touch."""
    fake.objects["contacts"][record_id] = {"properties": {
        "email": email, "firstname": "Pat", "lastname": "Example", **({"phone": phone} if phone else {}),
        "owner_notes": "Prefers mornings", "billing_status": "paid"}}


def protect_recovery_status(policy: PolicyFile) -> PolicyFile:
    """This business keeps the recovery status by hand: the engine must never write it, to any CRM."""
    crm = default_program(policy).crm
    crm.writable_fields = [f for f in crm.writable_fields if f != "recovery_status"]
    crm.clearable_fields = [f for f in crm.clearable_fields if f != "recovery_status"]
    crm.protected_fields.append("recovery_status")
    return policy


def assert_nothing_protected_sent(fake: FakeHubSpot) -> None:
    for props in fake.patched("contacts"):
        assert not PROTECTED_PROPERTIES & set(props), props


# ---------------------------------------------------------------------------- 1. Cal.com -> Cal.com, HubSpot CRM


async def test_calcom_no_show_rebooks_on_calcom_and_the_outcome_reaches_hubspot(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    phone, zone = daytime_contact()
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    uid = uuid.uuid4().hex[:22]
    start, end = slot_around_now()
    free = future_hours(8)
    with FakeCalcom() as calcom, FakeHubSpot() as hubspot:
        calcom.free = list(free)
        calcom.bookings[uid] = {"uid": uid, "status": "accepted", "start": iso(start), "end": iso(end),
                                "eventTypeId": 7, "attendees": [{"email": email, "name": "Pat Example"}],
                                "updatedAt": iso(start)}
        hubspot_contact(hubspot, "501", email)
        env = {**inbound_env(), **calcom_api_env(calcom.base_url), **hubspot_api_env(hubspot.base_url),
               "NOSHOW_CALENDAR_PROVIDER": "calcom", "NOSHOW_CRM_PROVIDER": "hubspot"}
        policy = protect_recovery_status(writeback_policy(zone))
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, policy) as stack:
            booked = dumps(calcom_booking(uid, email, phone, zone, start, end))
            case_id = case_of(await post(stack, "/webhooks/calcom", booked, calcom_headers(booked)))
            # Cal Video saw no guest: the engine decides the no-show itself
            missed = dumps(calcom_guest_no_show(uid, email, start, end))
            assert case_of(await post(stack, "/webhooks/calcom", missed, calcom_headers(missed))) == case_id

            final = await recover_and_pick(stack, case_id, free)

            # the booking went to Cal.com, for the picked time, with the attendee the booking webhook named
            assert calcom.calls("GET", "/v2/slots")
            [create] = calcom.calls("POST", "/v2/bookings")
            body = create.json()
            assert create.headers["cal-api-version"] == "2024-08-13"
            assert body["eventTypeId"] == 7 and body["attendee"]["email"] == email
            assert body["attendee"]["name"] == "Pat Example"  # kept although the no-show report had no name
            assert datetime.fromisoformat(body["start"].replace("Z", "+00:00")) == final.new_appointment_start
            assert body["metadata"]["noshow_case"] == case_id
            assert final.new_appointment_id in calcom.bookings

            # the outcome: the guest marked absent on the missed Cal.com booking ...
            [absent] = await polled(lambda: calcom.calls("POST", f"/v2/bookings/{uid}/mark-absent"),
                                    lambda c: len(c) >= 1)
            assert absent.json() == {"attendees": [{"email": email, "absent": True}]}
            # ... and in HubSpot, found by email: contact properties, the rebooked meeting, a note
            patched = await polled(lambda: hubspot.patched("contacts"), lambda p: len(p) >= 1)
            assert patched[0]["noshow_last_outcome"] == "NO_SHOW"
            assert patched[0]["noshow_next_appointment"].startswith(final.new_appointment_start.isoformat()[:16])
            [meeting] = await polled(lambda: list(hubspot.objects["meetings"].values()), lambda m: len(m) >= 1)
            assert meeting["properties"]["hs_meeting_outcome"] == "SCHEDULED"
            assert meeting["links"] == {"contacts": ["501"]}
            await polled(lambda: hubspot.objects["notes"], lambda n: len(n) >= 1)
            # the write rules held: the protected status and the people-owned fields were never sent
            assert_nothing_protected_sent(hubspot)
            props = hubspot.objects["contacts"]["501"]["properties"]
            assert props["owner_notes"] == "Prefers mornings" and props["billing_status"] == "paid"
            assert "noshow_recovery_status" not in props


# ---------------------------------------------------------------------------- 2. Calendly -> Calendly, local CRM


async def test_calendly_no_show_rebooks_on_calendly_and_the_outcome_reaches_the_local_crm(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    email = f"jane-{uuid.uuid4().hex[:8]}@example.com"
    start, end = slot_around_now()
    invitee = calendly_invitee_uri()
    free = future_hours(8)
    with FakeCalendly() as calendly:
        calendly.available = list(free)
        env = {**inbound_env(), **calendly_api_env(calendly.base_url), "NOSHOW_CALENDAR_PROVIDER": "calendly"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            created = dumps(calendly_invitee_created(invitee, email, zone, start, end))
            case_id = case_of(await post(stack, "/webhooks/calendly", created, calendly_headers(created)))
            no_show = dumps(calendly_no_show(invitee))
            assert case_of(await post(stack, "/webhooks/calendly", no_show, calendly_headers(no_show))) == case_id

            final = await recover_and_pick(stack, case_id, free)

            assert calendly.calls("GET", "/event_type_available_times")
            [book] = calendly.calls("POST", "/invitees")
            body = book.json()
            assert body["event_type"] == CALENDLY_EVENT_TYPE and body["invitee"]["email"] == email
            assert datetime.fromisoformat(body["start_time"].replace("Z", "+00:00")) == final.new_appointment_start
            assert final.new_appointment_id in calendly.booked
            row = stack.deps.calendar.appointment(str(final.new_appointment_id))
            assert row is not None and row["case_id"] == case_id  # the engine's copy of its own booking

            contact_id = f"calendly:{address_key_for(email)}"
            fields = await polled(lambda: stack.deps.crm.read_fields(contact_id, invitee),
                                  lambda f: f.get("recovery_status") == "rebooked")
            assert fields["outcome"] == "no_show" and fields["next_appointment"]


# ---------------------------------------------------------------------------- 3. Google -> Google, HubSpot CRM


def google_event(event_id: str, email: str, zone: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"id": event_id, "status": "confirmed", "updated": iso(datetime.now(UTC)), "summary": "Consultation",
            "start": {"dateTime": iso(start), "timeZone": zone}, "end": {"dateTime": iso(end), "timeZone": zone},
            "organizer": {"email": GOOGLE_CALENDAR, "self": True},
            "attendees": [{"email": GOOGLE_CALENDAR, "organizer": True, "self": True, "responseStatus": "accepted"},
                          {"email": email, "displayName": "Pat Example", "responseStatus": "accepted"}],
            "extendedProperties": {"private": {"appointment_type": "consultation"}}}


async def wait_for_cursor(stack: ProviderStack, source: str, not_equal: str | None = None) -> str:
    store = SqliteCursorStore(stack.deps.db)
    cursor = await polled(lambda: store.get(source), lambda c: c is not None and c != not_equal)
    assert cursor is not None
    return cursor


async def test_google_push_starts_a_case_and_the_rebooking_is_inserted_in_google(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    email = f"gpat-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC).replace(microsecond=0)
    free = future_hours(6)
    with FakeGoogleCalendar() as google, FakeHubSpot() as hubspot:
        google.busy = [(free[0], free[2])]  # the calendar owner is busy for the first two hours
        env = {**google_api_env(google.base_url), **hubspot_api_env(hubspot.base_url),
               "NOSHOW_CALENDAR_PROVIDER": "google", "NOSHOW_CRM_PROVIDER": "hubspot"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            api = GoogleCalendarClient("ya29.e2e", base_url=google.base_url + "/calendar/v3")
            channel = api.watch(GOOGLE_CALENDAR, f"{PUBLIC_BASE_URL}/webhooks/google",
                                store=stack.connector("google").channels)
            r = await stack.http.post("/webhooks/google", headers=google_ping_headers(
                channel.channel_id, channel.token, 1, state="sync"))
            assert r.status_code == 200, r.text
            # the first change: the sync is a baseline (what exists now is history, not cases)
            await post(stack, "/webhooks/google", b"", google_ping_headers(channel.channel_id, channel.token, 2))
            baseline = await wait_for_cursor(stack, "google")

            event_id = f"evt{uuid.uuid4().hex[:12]}"
            event = google_event(event_id, email, zone, now - timedelta(minutes=40), now - timedelta(minutes=10))
            google.events[event_id] = event
            google.changed_since_token = [event]
            await post(stack, "/webhooks/google", b"", google_ping_headers(channel.channel_id, channel.token, 3))
            await wait_for_cursor(stack, "google", not_equal=baseline)
            case_id = case_id_for("google", event_id, stack.deps.settings.auth.id_salt)
            # a calendar says nothing about attendance: a reviewer confirms the no-show
            await stack.approve(case_id)

            final = await recover_and_pick(stack, case_id, None)
            assert not free[0] <= final.new_appointment_start < free[2]  # the busy hours were not offered

            inserts = [c for c in google.calls("POST", "/events") if c.path.endswith("/events")]
            [insert] = inserts
            body = insert.json()
            assert insert.query["sendUpdates"] == "all"
            assert body["attendees"] == [{"email": email, "displayName": "Pat Example"}]
            assert body["extendedProperties"]["private"]["noshow_case"] == case_id
            assert datetime.fromisoformat(body["start"]["dateTime"].replace("Z", "+00:00")) == \
                final.new_appointment_start
            assert google.events[str(final.new_appointment_id)]["status"] == "confirmed"

            # HubSpot had no such contact: created from what the calendar knew, then updated, the booking recorded
            [created] = await polled(
                lambda: [c for c in hubspot.calls("POST") if c.path == "/crm/v3/objects/contacts"],
                lambda c: len(c) >= 1)
            assert created.json()["properties"]["email"] == email
            patched = await polled(lambda: hubspot.patched("contacts"), lambda p: len(p) >= 1)
            assert patched[0]["noshow_recovery_status"] == "rebooked"
            await polled(lambda: hubspot.objects["meetings"], lambda m: len(m) >= 1)
            assert_nothing_protected_sent_except_status(hubspot)


def assert_nothing_protected_sent_except_status(fake: FakeHubSpot) -> None:
    for props in fake.patched("contacts"):
        assert not {"owner_notes", "billing_status"} & set(props), props


# ---------------------------------------------------------------------------- 4. Outlook -> Outlook, local CRM


def graph_event(event_id: str, email: str, start: datetime, end: datetime) -> dict[str, Any]:
    def when(at: datetime) -> dict[str, str]:
        return {"dateTime": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}

    return {"id": event_id, "subject": "Consultation", "isAllDay": False, "isCancelled": False, "showAs": "busy",
            "lastModifiedDateTime": iso(datetime.now(UTC)), "categories": ["consultation"],
            "start": when(start), "end": when(end),
            "organizer": {"emailAddress": {"address": GRAPH_USER, "name": "Ops"}},
            "attendees": [{"type": "required", "status": {"response": "accepted"},
                           "emailAddress": {"address": email, "name": "Pat Example"}}]}


async def test_outlook_notification_starts_a_case_and_the_rebooking_is_created_in_outlook(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    email = f"opat-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC).replace(microsecond=0)
    free = future_hours(6)
    with FakeGraph() as graph:
        blocker = graph_event("AAMkBUSY", "other@example.com", free[0], free[2])
        graph.events[blocker["id"]] = blocker  # the mailbox is busy for the first two hours
        env = {**graph_api_env(graph.base_url), "NOSHOW_CALENDAR_PROVIDER": "outlook"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            api = OutlookClient("eyJ.e2e", base_url=graph.base_url + "/v1.0")
            sub = api.create_subscription(f"users/{GRAPH_USER}/events", f"{PUBLIC_BASE_URL}/webhooks/outlook",
                                          GRAPH_STATE, now + timedelta(days=2))
            # Graph validates the endpoint first: the token comes back verbatim as text
            r = await stack.http.post("/webhooks/outlook", params={"validationToken": "Validation: ping"})
            assert r.status_code == 200 and r.text == "Validation: ping"
            assert r.headers["content-type"].startswith("text/plain")
            note = dumps(graph_notification(sub["id"], "AAMkFIRST"))
            await post(stack, "/webhooks/outlook", note, {"content-type": "application/json"})
            baseline = await wait_for_cursor(stack, "outlook")

            event_id = f"AAMk{uuid.uuid4().hex[:12]}"
            missed = graph_event(event_id, email, now - timedelta(minutes=40), now - timedelta(minutes=10))
            graph.events[event_id] = missed
            graph.delta_items = [missed]
            note = dumps(graph_notification(sub["id"], event_id))
            await post(stack, "/webhooks/outlook", note, {"content-type": "application/json"})
            await wait_for_cursor(stack, "outlook", not_equal=baseline)
            case_id = case_id_for("outlook", event_id, stack.deps.settings.auth.id_salt)
            await stack.approve(case_id)

            final = await recover_and_pick(stack, case_id, None)
            assert not free[0] <= final.new_appointment_start < free[2]
            assert graph.calls("GET", f"/users/{GRAPH_USER}/calendarView")
            creates = [c for c in graph.calls("POST", f"/users/{GRAPH_USER}/events") if c.path.endswith("/events")]
            [create] = creates
            body = create.json()
            assert body["attendees"][0]["emailAddress"]["address"] == email
            assert body["transactionId"].startswith(case_id)
            assert body["start"]["timeZone"] == "UTC"
            assert str(final.new_appointment_id) in graph.events

            contact_id = f"outlook:{address_key_for(email)}"
            fields = await polled(lambda: stack.deps.crm.read_fields(contact_id, event_id),
                                  lambda f: f.get("recovery_status") == "rebooked")
            assert fields["outcome"] == "no_show"


# ---------------------------------------------------------------------------- 5. HubSpot -> local calendar, HubSpot


async def test_hubspot_meeting_no_show_is_rebooked_and_written_back_to_hubspot(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    phone, zone = daytime_contact()
    email = f"hpat-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC).replace(microsecond=0)
    with FakeHubSpot() as hubspot:
        hubspot_contact(hubspot, "501", email, phone)
        hubspot.objects["meetings"]["987654"] = {"properties": {
            "hs_meeting_title": "Consultation", "hs_meeting_start_time": iso(now - timedelta(minutes=40)),
            "hs_meeting_end_time": iso(now - timedelta(minutes=10)), "hubspot_owner_id": "42",
            "hs_meeting_outcome": "NO_SHOW"}}
        hubspot.link("meetings", "987654", "contacts", "501")
        env = {**hubspot_api_env(hubspot.base_url), "NOSHOW_CRM_PROVIDER": "hubspot"}
        policy = protect_recovery_status(writeback_policy(zone))
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, policy) as stack:
            body = dumps(hubspot_meeting_outcome("987654"))
            case_id = case_of(await post(stack, "/webhooks/hubspot", body, hubspot_headers(body)))
            state = await stack.state(case_id)
            assert state.stage.value != "ignored"
            # the webhook named only the meeting: its times and the contact's phone came from HubSpot
            assert hubspot.calls("GET", "/crm/v3/objects/meetings/987654")[0].query["associations"] == "contacts"

            final = await recover_and_pick(stack, case_id, None)
            sent = stack.deps.outbox.messages(case_id)
            assert sent and {m["channel"] for m in sent} <= {"sms", "whatsapp", "email"}

            # booked on the local calendar (HubSpot has no availability), recorded in HubSpot as a meeting
            row = stack.deps.calendar.appointment(str(final.new_appointment_id))
            assert row is not None and row["case_id"] == case_id
            meetings = await polled(lambda: {k: v for k, v in hubspot.objects["meetings"].items() if k != "987654"},
                                    lambda m: len(m) >= 1)
            [meeting] = meetings.values()
            assert meeting["properties"]["hs_meeting_outcome"] == "SCHEDULED"
            assert meeting["properties"]["hubspot_owner_id"] == "42"
            assert meeting["links"] == {"contacts": ["501"]}
            patched = await polled(lambda: hubspot.patched("contacts"), lambda p: len(p) >= 1)
            assert "noshow_next_appointment" in patched[0] and "noshow_missed_date" in patched[0]
            # the missed meeting already says NO_SHOW: nothing rewritten there
            assert hubspot.patched("meetings") == []
            assert hubspot.objects["meetings"]["987654"]["properties"]["hs_meeting_outcome"] == "NO_SHOW"
            await polled(lambda: hubspot.objects["notes"], lambda n: len(n) >= 1)
            assert_nothing_protected_sent(hubspot)
            props = hubspot.objects["contacts"]["501"]["properties"]
            assert props["owner_notes"] == "Prefers mornings" and props["billing_status"] == "paid"


# ---------------------------------------------------------------------------- 6. forged and stale: the other routes


async def test_forged_or_stale_google_outlook_hubspot_zoom_and_parse_deliveries_get_401_and_start_nothing(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGoogleCalendar() as google, FakeGraph() as graph, FakeHubSpot() as hubspot:
        hubspot_contact(hubspot, "501", "eve@example.com")
        env = {**google_api_env(google.base_url), **graph_api_env(graph.base_url), **hubspot_api_env(hubspot.base_url),
               "NOSHOW_ZOOM_SECRET_TOKEN": ZOOM_SECRET, "SENDGRID_PARSE_TOKEN": PARSE_TOKEN}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env) as stack:
            from connectors.google.inbound import GoogleChannel

            channels = stack.connector("google").channels
            channels.put(GoogleChannel(channel_id="chan-ok", token="tok-ok", calendar_id=GOOGLE_CALENDAR))
            channels.put(GoogleChannel(channel_id="chan-old", token="tok-old", calendar_id=GOOGLE_CALENDAR,
                                       expiration=datetime.now(UTC) - timedelta(minutes=1)))
            old_s, old_ms = int(time.time()) - 3600, int(time.time() * 1000) - 3_600_000
            meeting = dumps(hubspot_meeting_outcome("987654"))
            zoom = dumps({"event": "meeting.participant_joined", "event_ts": int(time.time() * 1000), "payload": {
                "account_id": "A", "object": {"id": "85012345678", "uuid": "u==", "participant": {
                    "user_id": "16778240", "user_name": "Guest", "join_time": iso(datetime.now(UTC))}}}})
            parse_form = b"from=eve%40example.com&to=reply%40example.com&subject=hi&text=yes"
            form = {"content-type": "application/x-www-form-urlencoded"}
            json_type = {"content-type": "application/json"}
            attempts: dict[str, tuple[str, bytes, dict[str, str]]] = {
                "google forged token": ("/webhooks/google", b"", google_ping_headers("chan-ok", "tok-guess", 1)),
                "google unknown channel": ("/webhooks/google", b"", google_ping_headers("chan-x", "tok-ok", 1)),
                "google expired channel": ("/webhooks/google", b"", google_ping_headers("chan-old", "tok-old", 1)),
                "outlook forged state": ("/webhooks/outlook", dumps(graph_notification("s1", "AAMk1", "guess")),
                                         json_type),
                "outlook no state": ("/webhooks/outlook", dumps(graph_notification("s1", "AAMk1", None)), json_type),
                "hubspot forged": ("/webhooks/hubspot", meeting, hubspot_headers(meeting, secret="wrong")),
                "hubspot other url": ("/webhooks/hubspot", meeting, hubspot_headers(meeting, path="/webhooks/x")),
                "hubspot stale": ("/webhooks/hubspot", meeting, hubspot_headers(meeting, ts_ms=old_ms)),
                "hubspot future": ("/webhooks/hubspot", meeting,
                                   hubspot_headers(meeting, ts_ms=int(time.time() * 1000) + 3_600_000)),
                "zoom forged": ("/webhooks/zoom", zoom, zoom_headers(zoom, secret="wrong")),
                "zoom stale": ("/webhooks/zoom", zoom, zoom_headers(zoom, ts=old_s)),
                "parse wrong token": ("/webhooks/sendgrid_parse?token=guess", parse_form, form),
                "parse no token": ("/webhooks/sendgrid_parse", parse_form, form),
            }
            for name, (path, body, headers) in attempts.items():
                r = await stack.http.post(path, content=body, headers=headers)
                assert r.status_code == 401, (name, r.status_code, r.text)
            assert await stack.workflow_count() == 0  # no case, no reconciliation run
            with stack.deps.db.connect() as conn:
                assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0
            assert hubspot.requests == [] and google.requests == [] and graph.requests == []
            assert SqliteCursorStore(stack.deps.db).get("google") is None

            # the same deliveries correctly signed are accepted: the 401s were about authenticity alone
            ok = await stack.http.post("/webhooks/hubspot", content=meeting, headers=hubspot_headers(meeting))
            assert ok.status_code == 200, ok.text
            ok = await stack.http.post("/webhooks/google", headers=google_ping_headers("chan-ok", "tok-ok", 9))
            assert ok.status_code == 200, ok.text
            await polled(lambda: SqliteCursorStore(stack.deps.db).get("google"), lambda c: c is not None)
            assert json.loads(ok.text)["ok"] is True
