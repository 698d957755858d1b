"""The calendar and CRM write-back: provider adapters behind MirroredCalendar / WritebackCrm (holds local, bookings
at the provider, conflicts re-checked), HubSpot under the CRM write rules, and the settings that select them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.calcom.calendar import CalcomCalendar
from connectors.calcom.client import CalcomClient
from connectors.calendly.calendar import CalendlyCalendar
from connectors.calendly.client import CalendlyClient
from connectors.contract import PermanentProviderError, RawRequest, SlotUnavailable
from connectors.google.calendar import GoogleCalendar
from connectors.google.client import GoogleCalendarClient
from connectors.google.inbound import GoogleChannel, InMemoryChannelStore
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.crm import HubSpotContactResolver, HubSpotCrm, union_rules
from connectors.local.calendar import LocalCalendar
from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from connectors.outlook.calendar import OutlookCalendar
from connectors.outlook.client import OutlookClient
from connectors.writeback import MirroredCalendar, WritebackCrm
from domain.models import Contact, Slot
from policies.schema import CrmRules
from tests.connectors.cases import hubspot_request
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeGoogleCalendar, FakeGraph, FakeHubSpot
from tests.helpers import settings_from
from workers.providers.checks import ProviderConfigError
from workers.providers.inbound import inbound_connectors
from workers.providers.writeback import writeback, writeback_checks
from workers.settings import Settings

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
JANE = Contact(contact_id="calcom:ak-jane", name="Jane Doe", email="jane@example.com", phone="+15551234567",
               timezone="UTC")


@pytest.fixture
def local(tmp_path: Path) -> tuple[LocalDb, LocalCalendar, LocalCrm]:
    db = LocalDb(tmp_path / "local.db")
    crm = LocalCrm(db, protected_fields=["billing_status"])
    crm.upsert_contact(JANE)
    return db, LocalCalendar(db), crm


def _slot(calendar_id: str, start: datetime = NOW) -> Slot:
    return Slot(start=start, end=start + timedelta(minutes=30), calendar_id=calendar_id)


# ---------------------------------------------------------------------------- calendars


def test_mirrored_calcom_books_at_the_provider_with_local_holds_and_cancels(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    db, local_cal, crm = local
    with FakeCalcom() as fake:
        fake.free = [NOW, NOW + timedelta(hours=1)]
        cal = MirroredCalendar(CalcomCalendar(CalcomClient("cal_test", base_url=fake.base_url + "/v2"), crm.contact),
                               local_cal, "calcom")
        busy = cal.busy("7", NOW - timedelta(hours=1), NOW + timedelta(hours=3))
        assert busy[0].end == NOW  # outside Cal.com's free slots is busy
        held = cal.hold(_slot("7"), "case-a", NOW + timedelta(hours=1))
        assert held.hold_id
        # another case sees the hold (local, shared by every worker process) and cannot take the slot
        assert any(b.start == NOW for b in cal.busy("7", NOW, NOW + timedelta(hours=1), exclude_case="case-b"))
        with pytest.raises(SlotUnavailable):
            cal.book(_slot("7"), "case-b", "30min", JANE.contact_id, "case-b-book")
        uid = cal.book(_slot("7"), "case-a", "30min", JANE.contact_id, "case-a-book")
        assert cal.book(_slot("7"), "case-a", "30min", JANE.contact_id, "case-a-book") == uid
        [posted] = fake.calls("POST", "/v2/bookings")
        assert posted.json()["attendee"]["email"] == JANE.email and posted.json()["eventTypeId"] == 7
        row = cal.appointment(uid)
        assert row is not None and row["case_id"] == "case-a" and row["status"] == "booked"
        with db.connect() as conn:
            assert conn.execute("SELECT COUNT(*) FROM holds").fetchone()[0] == 0
        # the customer cancels the booking the engine made: cancelled at Cal.com too, once
        cal.set_status(uid, "cancelled")
        cal.set_status(uid, "cancelled")
        assert fake.bookings[uid]["status"] == "cancelled"
        assert len(fake.calls("POST", f"/v2/bookings/{uid}/cancel")) == 1


def test_calcom_conflict_at_the_provider_is_slot_unavailable_and_a_retry_finds_its_own_booking(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, _, crm = local
    with FakeCalcom() as fake:
        fake.free = [NOW]
        client = CalcomClient("cal_test", base_url=fake.base_url + "/v2")
        uid = CalcomCalendar(client, crm.contact).book(_slot("7"), "case-a", "30min", JANE.contact_id, "key-a")
        # the worker restarted: a fresh adapter retries the same booking and finds it by its metadata
        assert CalcomCalendar(client, crm.contact).book(_slot("7"), "case-a", "30min", JANE.contact_id,
                                                        "key-a") == uid
        assert len(fake.calls("POST", "/v2/bookings")) == 1
        with pytest.raises(SlotUnavailable):  # someone else's booking took it
            CalcomCalendar(client, crm.contact).book(_slot("7"), "case-b", "30min", JANE.contact_id, "key-b")
        # offered but refused by Cal.com at booking time (a race): also SlotUnavailable, so the engine re-offers
        fake.free = [NOW + timedelta(hours=2)]
        fake.taken_meanwhile = {NOW + timedelta(hours=2)}
        with pytest.raises(SlotUnavailable):
            CalcomCalendar(client, crm.contact).book(_slot("7", NOW + timedelta(hours=2)), "case-c", "30min",
                                                     JANE.contact_id, "key-c")


def test_calcom_marks_the_guest_absent(local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, _, crm = local
    with FakeCalcom() as fake:
        fake.free = [NOW]
        client = CalcomClient("cal_test", base_url=fake.base_url + "/v2")
        cal = CalcomCalendar(client, crm.contact)
        uid = client.create_booking(7, NOW, JANE)
        assert cal.mark_no_show(uid, JANE) is True
        assert fake.bookings[uid]["attendees"][0]["absent"] is True
        assert cal.mark_no_show("no-such-booking", JANE) is False


def test_calendly_books_with_create_invitee_and_refuses_a_taken_time(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, local_cal, crm = local
    et = "https://api.calendly.com/event_types/ET789"
    with FakeCalendly() as fake:
        fake.available = [NOW, NOW + timedelta(hours=1)]
        adapter = CalendlyCalendar(CalendlyClient("tok", base_url=fake.base_url), crm.contact)
        cal = MirroredCalendar(adapter, local_cal, "calendly")
        busy = cal.busy(et, NOW, NOW + timedelta(hours=2))
        half = timedelta(minutes=30)
        assert [(b.start, b.end) for b in busy] == [(NOW + half, NOW + 2 * half), (NOW + 3 * half, NOW + 4 * half)]
        uri = cal.book(_slot(et), "case-a", "consultation", JANE.contact_id, "key-a")
        assert "/invitees/" in uri
        [post] = fake.calls("POST", "/invitees")
        assert post.json()["event_type"] == et and post.json()["invitee"]["email"] == JANE.email
        with pytest.raises(SlotUnavailable):  # the time is gone at Calendly
            cal.book(_slot(et), "case-b", "consultation", JANE.contact_id, "key-b")
        # offered, then taken between the re-check and the booking: Calendly refuses, still SlotUnavailable
        fake.taken_meanwhile = {NOW + timedelta(hours=1)}
        with pytest.raises(SlotUnavailable):
            cal.book(_slot(et, NOW + timedelta(hours=1)), "case-c", "consultation", JANE.contact_id, "key-c")
        cal.set_status(uri, "cancelled")
        assert fake.cancelled == [uri.split("/scheduled_events/")[1].split("/")[0]]
        assert adapter.mark_no_show(uri, JANE) is True and list(fake.no_shows.values()) == [uri]
        with pytest.raises(PermanentProviderError) as info:  # no event type: neither its own nor a default
            adapter.busy("7", NOW, NOW + timedelta(hours=1))
        assert info.value.code == "no_calendar"


def test_google_uses_the_default_calendar_for_other_sources_and_cancels(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, local_cal, crm = local
    with FakeGoogleCalendar() as fake:
        fake.busy = [(NOW, NOW + timedelta(minutes=30))]
        client = GoogleCalendarClient("ya29.t", base_url=fake.base_url + "/calendar/v3")
        cal = MirroredCalendar(GoogleCalendar(client, crm.contact, default_calendar="ops@example.org"),
                               local_cal, "google")
        # a Cal.com appointment (event type 7) rebooked on the configured Google calendar
        assert cal.busy("7", NOW - timedelta(hours=1), NOW + timedelta(hours=1))[0].start == NOW
        assert fake.calls("POST", "/freeBusy")[0].json()["items"] == [{"id": "ops@example.org"}]
        with pytest.raises(SlotUnavailable):
            cal.book(_slot("7"), "case-a", "consultation", JANE.contact_id, "key-a")
        event_id = cal.book(_slot("7", NOW + timedelta(hours=1)), "case-a", "consultation", JANE.contact_id, "key-a")
        assert fake.events[event_id]["attendees"] == [{"email": JANE.email, "displayName": JANE.name}]
        cal.set_status(event_id, "cancelled")
        assert fake.events[event_id]["status"] == "cancelled"
        assert fake.calls("PATCH", f"/events/{event_id}")[0].query["sendUpdates"] == "all"


def test_outlook_books_and_cancels_with_the_cancel_action(local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, local_cal, crm = local
    user = "2f1c7d4e-8a9b-4c3d-9e8f-0123456789ab"
    with FakeGraph() as fake:
        cal = MirroredCalendar(OutlookCalendar(OutlookClient("eyJ.t", base_url=fake.base_url + "/v1.0"),
                                               crm.contact), local_cal, "outlook")
        event_id = cal.book(_slot(user), "case-a", "consultation", JANE.contact_id, "key-a")
        assert fake.events[event_id]["transactionId"] == "key-a"
        with pytest.raises(SlotUnavailable):
            cal.book(_slot(user), "case-b", "consultation", JANE.contact_id, "key-b")
        cal.set_status(event_id, "cancelled")
        assert fake.events[event_id]["isCancelled"] is True
        assert fake.calls("POST", f"/events/{event_id}/cancel")


def test_no_calendar_for_an_appointment_means_nothing_to_offer(local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, local_cal, crm = local
    with FakeCalcom() as fake:
        fake.free = [NOW]
        cal = MirroredCalendar(CalcomCalendar(CalcomClient("k", base_url=fake.base_url + "/v2"), crm.contact),
                               local_cal, "calcom")
        busy = cal.busy("https://api.calendly.com/event_types/ET1", NOW, NOW + timedelta(hours=2))
        assert [(b.start, b.end) for b in busy] == [(NOW, NOW + timedelta(hours=2))]
        assert fake.requests == []


# ---------------------------------------------------------------------------- CRM


def _hubspot(fake: FakeHubSpot, crm: LocalCrm, db: LocalDb, rules: CrmRules | None = None) -> WritebackCrm:
    client = HubSpotClient("pat", base_url=fake.base_url)
    remote = HubSpotCrm(client, rules or union_rules([CrmRules()]),
                        contact_resolver=HubSpotContactResolver(client, crm.contact, db=db), default_owner="42")
    return WritebackCrm(crm, remote)


def test_hubspot_writes_obey_the_rules_find_the_contact_by_email_and_keep_a_local_copy(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    db, _, crm = local
    with FakeHubSpot() as fake:
        fake.objects["contacts"]["501"] = {"properties": {"email": "JANE@example.com", "billing_status": "paid",
                                                          "noshow_recovery_status": "open"}}
        engine = _hubspot(fake, crm, db)
        with pytest.raises(PermanentProviderError) as info:
            engine.write_fields(JANE.contact_id, "uid-1", {"recovery_status": "x", "billing_status": "unpaid"}, "k0")
        assert info.value.code == "protected_field"
        assert fake.calls("PATCH") == []  # nothing half-written
        current = engine.read_fields(JANE.contact_id, "uid-1")
        assert current["recovery_status"] == "open" and current["outcome"] is None
        engine.write_fields(JANE.contact_id, "uid-1", {"outcome": "no_show", "recovery_status": "rebooked",
                                                       "missed_date": "2026-01-10"}, "k1")
        engine.write_fields(JANE.contact_id, "uid-1", {"outcome": "no_show", "recovery_status": "rebooked",
                                                       "missed_date": "2026-01-10"}, "k1")  # a retried activity
        [patch] = fake.patched("contacts")
        assert patch == {"noshow_recovery_status": "rebooked", "noshow_missed_date": "2026-01-10",
                         "noshow_last_outcome": "NO_SHOW"}
        assert fake.objects["contacts"]["501"]["properties"]["billing_status"] == "paid"
        assert len(fake.calls("POST", "/crm/v3/objects/contacts/search")) == 1  # the mapping is remembered
        assert crm.read_fields(JANE.contact_id, "uid-1")["recovery_status"] == "rebooked"  # local audit copy
        engine.append_note(JANE.contact_id, "Missed the 10 Jan visit", "k1-note")
        engine.create_task("not-a-hubspot-owner", "Call back", "k1-task")
        [task] = fake.objects["tasks"].values()
        assert task["properties"]["hubspot_owner_id"] == "42"
        [note] = fake.objects["notes"].values()
        assert note["links"] == {"contacts": ["501"]}


def test_hubspot_creates_a_missing_contact_and_records_the_rebooked_meeting(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    db, _, crm = local
    with FakeHubSpot() as fake:
        engine = _hubspot(fake, crm, db)
        start = NOW + timedelta(days=2)
        with db.connect() as conn:  # the engine's own booking, as MirroredCalendar records it
            conn.execute("INSERT INTO appointments (appointment_id, calendar_id, contact_id, appointment_type, "
                         "start_at, end_at, status, case_id, idempotency_key) VALUES ('new-1', '7', ?, "
                         "'consultation', ?, ?, 'booked', 'case-a', 'case-a-book')",
                         (JANE.contact_id, start.isoformat(), (start + timedelta(minutes=45)).isoformat()))
        when = start.isoformat(timespec="minutes")
        engine.write_fields(JANE.contact_id, "uid-1", {"next_appointment": when, "recovery_status": "rebooked"}, "k")
        [record_id] = fake.objects["contacts"]
        [created] = [r for r in fake.calls("POST") if r.path == "/crm/v3/objects/contacts"]
        assert created.json()["properties"] == {"email": JANE.email, "firstname": "Jane", "lastname": "Doe",
                                                "phone": JANE.phone}
        [meeting] = fake.objects["meetings"].values()
        assert meeting["properties"]["hs_meeting_outcome"] == "SCHEDULED"
        assert meeting["properties"]["hs_meeting_end_time"].startswith(
            (start + timedelta(minutes=45)).astimezone(UTC).isoformat()[:16])
        assert meeting["links"] == {"contacts": [record_id]}
        # a placeholder contact (no email) cannot be found in HubSpot: written locally only, nothing fails
        crm.upsert_contact(Contact(contact_id="hubspot:anon-x"))
        engine.write_fields("hubspot:anon-x", "987", {"recovery_status": "unrecovered"}, "k2")
        assert crm.read_fields("hubspot:anon-x", "987") == {"recovery_status": "unrecovered"}


def test_hubspot_meeting_outcome_goes_to_the_meeting(local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    db, _, crm = local
    with FakeHubSpot() as fake:
        fake.objects["contacts"]["501"] = {"properties": {}}
        fake.objects["meetings"]["987654"] = {"properties": {"hs_meeting_outcome": "SCHEDULED"}}
        engine = _hubspot(fake, crm, db)
        engine.write_fields("hubspot:501", "987654", {"outcome": "no_show"}, "k")
        assert fake.objects["meetings"]["987654"]["properties"]["hs_meeting_outcome"] == "NO_SHOW"
        assert fake.patched("contacts") == []


def test_a_no_show_outcome_is_marked_in_the_appointments_scheduler(
        local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, _, crm = local
    with FakeCalcom() as fake:
        fake.free = [NOW]
        client = CalcomClient("k", base_url=fake.base_url + "/v2")
        uid = client.create_booking(7, NOW, JANE)
        engine = WritebackCrm(crm, None, CalcomCalendar(client, crm.contact), marker_source="calcom")
        engine.write_fields(JANE.contact_id, uid, {"outcome": "no_show"}, "k1")
        engine.write_fields(JANE.contact_id, uid, {"outcome": "no_show"}, "k1")
        assert len(fake.calls("POST", "/mark-absent")) == 1
        # another source's appointment is not Cal.com's to mark; a failing mark never fails the CRM write
        engine.write_fields("calendly:ak-x", "uri", {"outcome": "no_show"}, "k2")
        fake.fail_next(403, {"status": "error", "error": {"code": "ForbiddenException", "message": "x"}})
        engine.write_fields(JANE.contact_id, uid, {"outcome": "no_show", "recovery_status": "x"}, "k3")
        assert len(fake.calls("POST", "/mark-absent")) == 2
        assert crm.read_fields(JANE.contact_id, uid)["recovery_status"] == "x"


def test_contact_updates_merge_instead_of_erasing(local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, _, crm = local
    engine = WritebackCrm(crm)
    engine.upsert_contact(Contact(contact_id=JANE.contact_id, email=JANE.email))  # a no-show report: email only
    assert engine.contact(JANE.contact_id) == JANE


# ---------------------------------------------------------------------------- settings and inbound follow-ups


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Settings:
    monkeypatch.chdir(tmp_path)  # no .env of the machine's
    return settings_from(env)


def test_settings_select_the_providers_and_missing_secrets_are_named(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local: tuple[LocalDb, LocalCalendar, LocalCrm]) -> None:
    _, local_cal, crm = local
    ps = _settings(monkeypatch, tmp_path)
    assert writeback(ps, local_cal, crm, []) == (local_cal, crm)
    ps = _settings(monkeypatch, tmp_path, calendar_provider="outlook", crm_provider="hubspot")
    with pytest.raises(ProviderConfigError) as info:
        writeback(ps, local_cal, crm, [])
    assert "NOSHOW_GRAPH_ACCESS_TOKEN" in str(info.value) and "NOSHOW_HUBSPOT_ACCESS_TOKEN" in str(info.value)
    assert {c.name: c.status for c in writeback_checks(ps)} == {"calendar": "error", "crm": "error"}
    ps = _settings(monkeypatch, tmp_path, calendar_provider="calcom", calcom_api_key="cal_live_x",
                   calcom_event_type_id="seven", crm_provider="hubspot", hubspot_access_token="pat-x",
                   hubspot_base_url="api.hubapi.com")
    problems = " ".join(c.detail for c in writeback_checks(ps))
    assert "NOSHOW_CALCOM_EVENT_TYPE_ID must be the numeric" in problems
    assert "NOSHOW_HUBSPOT_BASE_URL must be an absolute" in problems
    assert "cal_live_x" not in problems and "pat-x" not in problems
    ps = _settings(monkeypatch, tmp_path, calendar_provider="calcom", calcom_api_key="cal_live_x",
                   calcom_event_type_id="7", crm_provider="hubspot", hubspot_access_token="pat-x")
    engine_cal, engine_crm = writeback(ps, local_cal, crm, [CrmRules()])
    assert isinstance(engine_cal, MirroredCalendar) and isinstance(engine_cal.provider, CalcomCalendar)
    assert isinstance(engine_crm, WritebackCrm) and isinstance(engine_crm.remote, HubSpotCrm)
    assert engine_crm.marker is engine_cal.provider
    assert {c.status for c in writeback_checks(ps)} == {"ok"}


def test_union_of_rules_keeps_every_protection() -> None:
    a = CrmRules(protected_fields=["owner_notes"], writable_fields=["outcome", "risk_flag"])
    b = CrmRules(protected_fields=["risk_flag"], writable_fields=["outcome"])
    merged = union_rules([a, b])
    assert set(merged.protected_fields) == {"owner_notes", "risk_flag"}
    assert set(merged.writable_fields) == {"outcome", "risk_flag"}


def test_google_ping_asks_for_a_sync_and_hubspot_events_get_the_meeting_details(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = InMemoryChannelStore([GoogleChannel(channel_id="chan-1", token="tok", calendar_id="ops@example.org")])
    with FakeHubSpot() as fake:
        fake.objects["contacts"]["501"] = {"properties": {"email": "pat@example.com", "firstname": "Pat",
                                                          "phone": "+15550001111"}}
        fake.objects["meetings"]["987654"] = {"properties": {"hs_meeting_start_time": "2026-01-06T14:00:00Z",
                                                             "hs_meeting_end_time": "2026-01-06T14:30:00Z",
                                                             "hubspot_owner_id": "42"}}
        fake.link("meetings", "987654", "contacts", "501")
        ps = _settings(monkeypatch, tmp_path, google_channels="true", hubspot_client_secret="hs_client_secret",
                       hubspot_access_token="pat-x", hubspot_base_url=fake.base_url)
        routes, _ = inbound_connectors(ps, channel_store=store)
        ping = RawRequest(method="POST", url="https://example.com/webhooks/google", body=b"", headers={
            "x-goog-channel-id": "chan-1", "x-goog-channel-token": "tok", "x-goog-resource-state": "exists",
            "x-goog-message-number": "7"})
        google = routes["google"]
        google.verify(ping, datetime.now(UTC))
        assert google.parse(ping).sync_sources == ["google"]
        hello = ping.model_copy(update={"headers": {**ping.headers, "x-goog-resource-state": "sync"}})
        assert google.parse(hello).sync_sources == []

        body = (b'[{"eventId":1001,"subscriptionId":1,"portalId":62515,"appId":1,"occurredAt":1767708000000,'
                b'"subscriptionType":"object.propertyChange","objectTypeId":"0-47","objectId":987654,'
                b'"propertyName":"hs_meeting_outcome","propertyValue":"NO_SHOW"}]')
        req = hubspot_request(body, datetime.now(UTC))
        routes["hubspot"].verify(req, datetime.now(UTC))
        [event] = routes["hubspot"].parse(req).events
        appt = event.appointment
        assert appt.contact.contact_id == "hubspot:501" and appt.contact.phone == "+15550001111"
        assert appt.start == datetime(2026, 1, 6, 14, tzinfo=UTC) and appt.owner_id == "42"
        # a meeting HubSpot cannot show us: the event still arrives, with the placeholder contact
        missing = body.replace(b"987654", b"404404").replace(b"1001", b"1002")
        req = hubspot_request(missing, datetime.now(UTC))
        [event] = routes["hubspot"].parse(req).events
        assert event.appointment.contact.email is None and event.appointment.appointment_id == "404404"
