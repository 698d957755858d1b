"""Provider clients and CalendarConnector / CrmConnector adapters against the fakes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.calcom.calendar import CalcomCalendar
from connectors.calcom.client import CalcomClient
from connectors.calendly.client import CalendlyClient
from connectors.contract import (
    CalendarConnector,
    CrmConnector,
    PermanentProviderError,
    RawRequest,
    SignatureError,
    SlotUnavailable,
)
from connectors.google.calendar import GoogleCalendar
from connectors.google.client import GoogleCalendarClient
from connectors.google.inbound import GoogleCalendarInbound, InMemoryChannelStore
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.crm import HubSpotCrm
from connectors.inbound import PayloadError
from connectors.outlook.calendar import OutlookCalendar
from connectors.outlook.client import OutlookClient
from connectors.outlook.inbound import OutlookInbound
from connectors.standard_webhooks import StandardWebhooksInbound, sign
from domain.models import Contact, Slot
from policies.schema import CrmRules
from tests.connectors.cases import STD_SECRET, std_request
from tests.connectors.kit import NOW, fixture_bytes, fixture_json
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeGoogleCalendar, FakeGraph, FakeHubSpot

START = datetime(2026, 1, 10, 15, tzinfo=UTC)
JANE = Contact(contact_id="calcom:ak-1", name="Jane Doe", email="jane@example.com", timezone="UTC")


def _lookup(contact_id: str) -> Contact | None:
    return JANE if contact_id == JANE.contact_id else None


def _slot(cal: str, start: datetime = START) -> Slot:
    return Slot(start=start, end=start + timedelta(minutes=30), calendar_id=cal)


# ------------------------------------------------------------------------------------------------ Cal.com


def test_calcom_calendar_books_detects_conflicts_and_is_idempotent() -> None:
    with FakeCalcom() as fake:
        fake.free = [START, START + timedelta(hours=1)]
        cal = CalcomCalendar(CalcomClient("cal_test", base_url=fake.base_url + "/v2"), _lookup)
        assert isinstance(cal, CalendarConnector)
        busy = cal.busy("7", START - timedelta(hours=1), START + timedelta(hours=2))
        assert busy[0].end == START  # before the first free slot is busy
        uid = cal.book(_slot("7"), "case-1", "30min", JANE.contact_id, "case-1:book")
        assert cal.book(_slot("7"), "case-1", "30min", JANE.contact_id, "case-1:book") == uid
        assert len(fake.calls("POST", "/v2/bookings")) == 1
        with pytest.raises(SlotUnavailable):
            cal.book(_slot("7"), "case-2", "30min", JANE.contact_id, "case-2:book")
        assert all(r.headers["cal-api-version"] == "2024-08-13" for r in fake.calls("POST", "/v2/bookings"))
        assert fake.calls("GET", "/v2/slots")[0].headers["cal-api-version"] == "2024-09-04"


def test_calcom_reschedule_cancel_mark_absent() -> None:
    with FakeCalcom() as fake:
        fake.free = [START]
        client = CalcomClient("cal_test", base_url=fake.base_url + "/v2")
        uid = client.create_booking(7, START, JANE)
        client.mark_absent(uid, {"jane@example.com": True})
        assert fake.bookings[uid]["attendees"][0]["absent"] is True
        new_uid = client.reschedule(uid, START + timedelta(days=1), reason="missed")
        assert new_uid != uid and fake.bookings[uid]["status"] == "cancelled"
        with pytest.raises(PermanentProviderError) as info:
            client.reschedule(uid, START + timedelta(days=2))  # a cancelled booking cannot move: 400
        assert info.value.code == "BadRequestException"
        client.cancel(new_uid, "customer asked")
        cancel = fake.calls("POST", f"/v2/bookings/{new_uid}/cancel")[0]
        assert cancel.json() == {"cancellationReason": "customer asked"}


# ------------------------------------------------------------------------------------------------ Calendly


def test_calendly_available_times_links_and_no_show_marks() -> None:
    with FakeCalendly() as fake:
        fake.available = [START, START + timedelta(days=40)]
        client = CalendlyClient("tok", base_url=fake.base_url)
        et = "https://api.calendly.com/event_types/ET789"
        slots = client.available_times(et, START - timedelta(days=1), START + timedelta(days=45))
        assert [s.start for s in slots] == fake.available
        assert len(fake.calls("GET", "/event_type_available_times")) == 2  # split at 31 days
        assert client.single_use_link(et).startswith("https://calendly.com/d/")
        assert fake.calls("POST", "/scheduling_links")[0].json() == {
            "max_event_count": 1, "owner": et, "owner_type": "EventType"}
        uri = client.mark_no_show("https://api.calendly.com/scheduled_events/EVT123/invitees/INV456")
        client.unmark_no_show(uri)
        with pytest.raises(PermanentProviderError) as info:
            client.unmark_no_show(uri)
        assert info.value.code == "Resource Not Found"


# ------------------------------------------------------------------------------------------------ Google


def test_google_channels_watch_renew_and_verify() -> None:
    with FakeGoogleCalendar() as fake:
        client = GoogleCalendarClient("ya29.test", base_url=fake.base_url + "/calendar/v3")
        store = InMemoryChannelStore()
        channel = client.watch("ops@example.org", "https://example.com/webhooks/google", store)
        inbound = GoogleCalendarInbound(store)
        req = RawRequest(method="POST", url="https://example.com/webhooks/google", body=b"", headers={
            "x-goog-channel-id": channel.channel_id, "x-goog-channel-token": channel.token,
            "x-goog-resource-state": "exists", "x-goog-message-number": "5"})
        inbound.verify(req, NOW)
        assert inbound.sync_needed(req) == "ops@example.org"
        renewed = client.renew_channel(channel, "https://example.com/webhooks/google", store)
        assert store.get(channel.channel_id) is None and store.get(renewed.channel_id) is not None
        assert fake.calls("POST", "/channels/stop")[0].json()["id"] == channel.channel_id
        with pytest.raises(SignatureError):  # the old channel is gone
            GoogleCalendarInbound(store).verify(req, NOW)


def test_google_sync_token_and_410_full_resync() -> None:
    with FakeGoogleCalendar() as fake:
        page = fixture_json("google", "events_sync.json")
        fake.events = {e["id"]: e for e in page["items"]}
        client = GoogleCalendarClient("ya29.test", base_url=fake.base_url + "/calendar/v3")
        first = client.sync("ops@example.org", None)
        # the owner's own block is not an appointment; the id-only cancellation is kept
        assert {(s.appointment.appointment_id, s.status) for s in first.snapshots} == {
            ("evt1abc", "active"), ("evt2cancel", "cancelled")}
        assert first.snapshots[0].appointment.appointment_type == "consultation"
        fake.changed_since_token = [page["items"][1]]
        second = client.sync("ops@example.org", first.cursor)
        assert not second.full_resync and len(second.snapshots) == 1
        assert fake.calls("GET", "/events")[-1].query["syncToken"] == first.cursor
        third = client.sync("ops@example.org", "expired-token")
        assert third.full_resync and len(third.snapshots) == 2


def test_google_calendar_book_conflict_and_retry() -> None:
    with FakeGoogleCalendar() as fake:
        cal = GoogleCalendar(GoogleCalendarClient("t", base_url=fake.base_url + "/calendar/v3"), _lookup)
        event_id = cal.book(_slot("ops@example.org"), "case-1", "consultation", JANE.contact_id, "case-1:book")
        # the same booking retried: our own event is the busy time, so it is returned, not duplicated
        assert cal.book(_slot("ops@example.org"), "case-1", "consultation", JANE.contact_id, "case-1:book") == event_id
        with pytest.raises(SlotUnavailable):
            cal.book(_slot("ops@example.org"), "case-2", "consultation", JANE.contact_id, "case-2:book")
        assert len(fake.events) == 1
        inserted = fake.calls("POST", "/events")[0]
        assert inserted.query["sendUpdates"] == "all" and inserted.json()["attendees"][0]["email"] == JANE.email


# ------------------------------------------------------------------------------------------------ Outlook


def test_outlook_validation_handshake_echoes_token_as_text() -> None:
    inbound = OutlookInbound("graph-client-state-secret")
    req = RawRequest(method="POST", url="https://example.com/webhooks/outlook", headers={}, body=b"",
                     query={"validationToken": "Validation: Testing client application reachability"})
    inbound.verify(req, NOW)
    result = inbound.parse(req)
    assert result.response == "Validation: Testing client application reachability"
    assert result.response_media_type == "text/plain"


def test_outlook_notification_lists_changes_for_sync() -> None:
    inbound = OutlookInbound(["old-state", "graph-client-state-secret"])  # rotation
    req = RawRequest(method="POST", url="https://example.com/webhooks/outlook", headers={},
                     body=fixture_bytes("outlook", "notification.json"))
    inbound.verify(req, NOW)
    (change,) = inbound.changes(req)
    assert change.change_type == "updated" and change.resource_id == "AAMkAGI2"
    assert inbound.sync_needed(req) == ["7f105c7d-2dc5-4530-97cd-4e7ae6534c07"]


def test_outlook_subscriptions_find_times_book_and_delta() -> None:
    with FakeGraph() as fake:
        client = OutlookClient("eyJ.test", base_url=fake.base_url + "/v1.0")
        sub = client.create_subscription("users/ops-user-id/events", "https://example.com/webhooks/outlook",
                                         "graph-client-state-secret", NOW + timedelta(days=2))
        client.renew_subscription(sub["id"], NOW + timedelta(days=4))
        assert fake.subscriptions[sub["id"]]["expirationDateTime"].startswith("2026-01-10")
        slots = client.find_meeting_times("ops-user-id", ["jane@example.com"], START, START + timedelta(hours=1),
                                          timedelta(minutes=30))
        assert slots and slots[0].start == START
        cal = OutlookCalendar(client, _lookup, default_user="ops-user-id")
        event_id = cal.book(_slot("ops-user-id"), "case-1", "consultation", JANE.contact_id, "case-1:book")
        assert fake.events[event_id]["transactionId"] == "case-1:book"
        with pytest.raises(SlotUnavailable):
            cal.book(_slot("ops-user-id"), "case-2", "consultation", JANE.contact_id, "case-2:book")
        client.update_event("ops-user-id", event_id, {"subject": "moved"})
        fake.delta_items = fixture_json("outlook", "delta.json")["value"]
        page = client.sync("ops-user-id", None, NOW - timedelta(days=1), NOW + timedelta(days=30))
        assert {(s.appointment.appointment_id, s.status) for s in page.snapshots} == {
            ("AAMkAGI2", "active"), ("AAMkGONE", "cancelled")}
        assert page.snapshots[0].appointment.start == START
        expired = client.sync("ops-user-id", fake.base_url + "/v1.0/users/ops-user-id/calendarView/delta"
                              "?$deltatoken=expired", NOW - timedelta(days=1), NOW + timedelta(days=30))
        assert expired.full_resync and expired.cursor and "deltatoken=t" in expired.cursor


# ------------------------------------------------------------------------------------------------ HubSpot


def test_hubspot_crm_respects_write_rules_and_is_idempotent() -> None:
    with FakeHubSpot() as fake:
        fake.objects["contacts"]["501"] = {"properties": {"noshow_recovery_status": "open"}}
        fake.objects["meetings"]["987654"] = {"properties": {"hs_meeting_outcome": "SCHEDULED"}}
        crm = HubSpotCrm(HubSpotClient("pat", base_url=fake.base_url), CrmRules(),
                         clock=lambda: NOW)
        assert isinstance(crm, CrmConnector)
        with pytest.raises(PermanentProviderError) as info:
            crm.write_fields("hubspot:501", "987654", {"recovery_status": "x", "billing_status": "paid"}, "k1")
        assert info.value.code == "protected_field"
        assert not fake.calls("PATCH")  # nothing half-written
        crm.write_fields("hubspot:501", "987654", {"outcome": "no_show", "recovery_status": "recovering"}, "k2")
        assert fake.objects["meetings"]["987654"]["properties"]["hs_meeting_outcome"] == "NO_SHOW"
        assert fake.objects["contacts"]["501"]["properties"]["noshow_recovery_status"] == "recovering"
        assert crm.read_fields("hubspot:501", "987654")["outcome"] == "no_show"
        crm.create_task("64492917", "Call back about the missed visit", "case-1:task")
        crm.create_task("64492917", "Call back about the missed visit", "case-1:task")
        crm.append_note("hubspot:501", "Missed the 10 Jan visit", "case-1:note")
        crm.append_note("hubspot:501", "Missed the 10 Jan visit", "case-1:note")
        assert len(fake.objects["tasks"]) == 1 and len(fake.objects["notes"]) == 1
        task = next(iter(fake.objects["tasks"].values()))["properties"]
        assert task["hubspot_owner_id"] == "64492917" and task["hs_task_status"] == "NOT_STARTED"
        with pytest.raises(PermanentProviderError):
            crm.read_fields("calcom:ak-unknown", "")  # no HubSpot record for a foreign contact id


# ------------------------------------------------------------------------------------------------ Standard Webhooks


def test_standard_webhooks_rotation_and_bad_data() -> None:
    new = "whsec_" + "bmV3LXNlY3JldC1uZXctc2VjcmV0LTAxMjM0NTY3ODk="
    inbound = StandardWebhooksInbound([new, STD_SECRET])
    body = fixture_bytes("standard", "no_show.json")
    req = std_request(body, NOW)
    both = f"{sign(new, req.headers['webhook-id'], int(NOW.timestamp()), body)} {req.headers['webhook-signature']}"
    inbound.verify(req.model_copy(update={"headers": {**req.headers, "webhook-signature": both}}), NOW)
    (event,) = inbound.parse(req).events
    assert event.event_id == req.headers["webhook-id"] and event.appointment.contact.contact_id == "pt-5501"
    bad = json.dumps({"type": "appointment.no_show", "timestamp": "2026-01-06T15:20:00Z",
                      "data": {"appointment": {"source": "x"}}}).encode()
    with pytest.raises(PayloadError):
        inbound.parse(std_request(bad, NOW))


def test_calcom_slots_parse() -> None:
    with FakeCalcom() as fake:
        fake.free = [START]
        slots = CalcomClient("k", base_url=fake.base_url + "/v2").slots(7, date(2026, 1, 10), date(2026, 1, 10))
        assert slots == [Slot(start=START, end=START + timedelta(minutes=30), calendar_id="7")]
