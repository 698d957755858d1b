"""Acuity Scheduling: the ping's follow-up read, no-show and label outcomes, the calendar against the fake (times
per day, a re-check before booking, an earlier attempt found, admin cancel and the no-show mark), the poll, and the
wiring from settings. Signatures, replays and error mapping run through the conformance kit (cases_acuity.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.acuity.calendar import AcuityCalendar
from connectors.acuity.client import AcuityClient
from connectors.acuity.inbound import AcuityInbound, appointment_event
from connectors.acuity.source import AcuitySource
from connectors.contract import AmbiguousSendError, PermanentProviderError, SignatureError, SlotUnavailable
from domain.models import Contact, EventType, SignalKind, Slot
from tests.connectors.cases_acuity import API_KEY, USER_ID, VECTOR_BODY, VECTOR_SIGNATURE, acuity_request
from tests.connectors.kit import NOW, fixture_bytes, fixture_json
from tests.fakes.acuity_fake import FakeAcuity, ping

TYPE = "1"
CLIENT = Contact(contact_id="acuity:ak-client", name="Jane Doe", email="jane@example.com", phone="+15555550142")


def _ping_event(name: str) -> tuple[AcuityInbound, object]:
    inbound = AcuityInbound(API_KEY, clock=lambda: NOW)
    request = acuity_request(fixture_bytes("acuity", name), NOW)
    inbound.verify(request, NOW)
    (event,) = inbound.parse(request).events
    return inbound, event


def test_the_documented_vector_for_the_static_action_spelling_verifies_too() -> None:
    body = b"action=scheduled&id=12345&calendarID=27238&appointmentTypeID=1"
    AcuityInbound(API_KEY).verify(acuity_request(body, NOW), NOW)
    signed = acuity_request(VECTOR_BODY, NOW)
    assert signed.headers["x-acuity-signature"] == VECTOR_SIGNATURE
    with pytest.raises(SignatureError):
        AcuityInbound("another-key").verify(signed, NOW)


def test_the_vendor_appointment_turns_a_ping_into_a_no_show_with_its_times_type_and_client() -> None:
    _, event = _ping_event("changed.txt")
    appointment = fixture_json("acuity", "appointment.json")
    appointment["noShow"] = True
    read = appointment_event(event, appointment, "acuity")  # type: ignore[arg-type]
    appt = read.appointment
    assert read.type == EventType.no_show and read.signal is not None and read.signal.value == "no_show"
    assert (appt.appointment_id, appt.appointment_type, appt.calendar_id) == ("54321", "Regular Visit", "1:27238")
    assert appt.start == datetime(2013, 6, 17, 17, 15, tzinfo=UTC) and appt.end - appt.start == timedelta(minutes=60)
    assert (appt.contact.name, appt.contact.email) == ("Bob McTest", "bob.mctest@example.com")
    assert appt.contact.contact_id.startswith("acuity:") and "@" not in appt.contact.contact_id
    assert appt.value == 10.0


def test_a_cancelled_appointment_without_the_flag_is_a_cancellation_and_labels_are_read_only_when_named() -> None:
    _, event = _ping_event("canceled.txt")
    appointment = fixture_json("acuity", "appointment.json")
    cancelled = appointment_event(event, appointment, "acuity")  # type: ignore[arg-type]
    assert cancelled.type == EventType.cancelled
    assert cancelled.signal is not None and cancelled.signal.kind == SignalKind.cancellation
    live = {**appointment, "canceled": False}
    assert appointment_event(event, live, "acuity").type == EventType.cancelled  # type: ignore[arg-type]
    attended = appointment_event(event, live, "acuity", attended_labels=["completed"])  # type: ignore[arg-type]
    assert attended.type == EventType.attended
    _, booked = _ping_event("scheduled.txt")
    assert appointment_event(booked, live, "acuity").type == EventType.booked  # type: ignore[arg-type]


def test_a_reschedule_ping_takes_the_new_times_from_the_appointment() -> None:
    _, event = _ping_event("appointment_rescheduled.txt")
    appointment = {**fixture_json("acuity", "appointment.json"), "canceled": False}
    moved = appointment_event(event, appointment, "acuity")  # type: ignore[arg-type]
    assert moved.type == EventType.rescheduled
    assert moved.new_start == datetime(2013, 6, 17, 17, 15, tzinfo=UTC) == moved.appointment.start


def test_a_body_that_is_not_a_ping_is_a_payload_error_not_a_crash() -> None:
    from connectors.inbound import PayloadError

    inbound = AcuityInbound(API_KEY)
    for body in (b"action=scheduled&id=&calendarID=1", b"\xff\xfe"):
        request = acuity_request(body, NOW)
        inbound.check_signature(request, NOW)
        with pytest.raises(PayloadError):
            inbound.parse(request)


# ------------------------------------------------------------------ calendar and poll against the fake


@pytest.fixture
def acuity() -> Iterator[tuple[FakeAcuity, AcuityCalendar]]:
    with FakeAcuity(USER_ID, API_KEY) as fake:
        client = AcuityClient(USER_ID, API_KEY, base_url=fake.base_url)
        yield fake, AcuityCalendar(client, lambda cid: CLIENT if cid == CLIENT.contact_id else None,
                                   default_calendar=TYPE, clock=lambda: NOW)


def test_times_are_read_per_day_with_basic_auth_and_holds_stay_local(
        acuity: tuple[FakeAcuity, AcuityCalendar]) -> None:
    fake, calendar = acuity
    open_at = datetime(2026, 1, 7, 15, tzinfo=UTC)
    fake.free_after(TYPE, open_at, 2)
    busy = calendar.busy("1:27238", NOW, NOW + timedelta(days=2))
    # one call for the month's days with a free time, then the times of those days only
    (dates,) = fake.calls("GET", "/availability/dates")
    assert dates.query == {"month": "2026-01", "appointmentTypeID": "1", "calendarID": "27238"}
    (times,) = fake.calls("GET", "/availability/times")
    assert times.query == {"date": "2026-01-07", "appointmentTypeID": "1", "calendarID": "27238"}
    assert times.headers["authorization"].startswith("Basic ")
    assert not any(b.start <= open_at < b.end for b in busy)
    held = calendar.hold(Slot(start=open_at, end=open_at + timedelta(minutes=30), calendar_id="1:27238"), "case-1",
                         NOW + timedelta(hours=1))
    assert any(b.start <= held.start < b.end for b in calendar.busy("1:27238", NOW, NOW + timedelta(days=2)))
    assert not fake.calls("POST")


def test_a_window_across_months_and_time_zones_reads_each_month_and_the_calendars_own_days(
        acuity: tuple[FakeAcuity, AcuityCalendar]) -> None:
    fake, calendar = acuity
    # 03:30 UTC on 1 February is 22:30 on 31 January in New York: a day of January for Acuity
    late = datetime(2026, 2, 1, 3, 30, tzinfo=UTC)
    fake.open_times[TYPE] = [late]
    busy = calendar.busy(TYPE, datetime(2026, 2, 1, 0, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC))
    assert [c.query["month"] for c in fake.calls("GET", "/availability/dates")] == ["2026-01", "2026-02"]
    assert [c.query["date"] for c in fake.calls("GET", "/availability/times")] == ["2026-01-31"]
    assert not any(b.start <= late < b.end for b in busy)


def test_a_booking_re_checks_then_books_as_a_client_and_a_taken_time_is_never_double_booked(
        acuity: tuple[FakeAcuity, AcuityCalendar]) -> None:
    fake, calendar = acuity
    first, second = fake.free_after(TYPE, datetime(2026, 1, 7, 15, tzinfo=UTC), 2)
    slot = Slot(start=first, end=first + timedelta(minutes=30), calendar_id=TYPE)
    booked = calendar.book(slot, "case-1", "consultation", CLIENT.contact_id, "key-1")
    (create,) = fake.calls("POST", "/appointments")
    assert "admin" not in create.query  # a client booking: Acuity's own availability rules apply
    body = create.json()
    assert (body["appointmentTypeID"], body["firstName"], body["lastName"], body["email"]) == (
        1, "Jane", "Doe", "jane@example.com")
    assert fake.appointments[booked]["email"] == "jane@example.com"
    # the retry of the same booking finds its own appointment instead of booking again
    assert calendar.book(slot, "case-1", "consultation", CLIENT.contact_id, "key-1") == booked
    assert len(fake.calls("POST", "/appointments")) == 1
    # someone else took the other time meanwhile
    other = Slot(start=second, end=second + timedelta(minutes=30), calendar_id=TYPE)
    fake.open_times[TYPE].remove(second)
    with pytest.raises(SlotUnavailable):
        calendar.book(other, "case-2", "consultation", CLIENT.contact_id, "key-2")
    assert len(fake.calls("POST", "/appointments")) == 1


def test_a_refusal_after_the_re_check_is_read_as_taken_and_a_lost_answer_finds_its_own(
        acuity: tuple[FakeAcuity, AcuityCalendar]) -> None:
    fake, calendar = acuity
    (at,) = fake.free_after(TYPE, datetime(2026, 1, 7, 15, tzinfo=UTC), 1)
    slot = Slot(start=at, end=at + timedelta(minutes=30), calendar_id=TYPE)
    original = fake._create

    def taken_meanwhile(req, m):  # type: ignore[no-untyped-def]
        fake.open_times[TYPE].clear()
        return original(req, m)

    fake.route("POST", "/appointments", taken_meanwhile)
    fake._routes.insert(0, fake._routes.pop())
    with pytest.raises(SlotUnavailable):
        calendar.book(slot, "case-1", "consultation", CLIENT.contact_id, "key-1")
    with pytest.raises(PermanentProviderError) as info:
        calendar.book(slot.model_copy(update={"calendar_id": "x"}), "c", "t", "acuity:nobody", "k")
    assert info.value.code == "no_contact"


def test_an_unanswered_create_is_looked_up_before_it_is_raised(acuity: tuple[FakeAcuity, AcuityCalendar]) -> None:
    fake, calendar = acuity
    first, second = fake.free_after(TYPE, datetime(2026, 1, 7, 15, tzinfo=UTC), 2)
    original, books = fake._create, [True]

    def answer_lost(req, m):  # type: ignore[no-untyped-def]
        made = original(req, m) if books[0] else None
        time.sleep(0.6)  # past the client's timeout: the answer never arrives
        return made

    fake._routes.insert(0, ("POST", re.compile("^/appointments$"), answer_lost))
    calendar.client.http.timeout = httpx.Timeout(0.3)
    slot = Slot(start=first, end=first + timedelta(minutes=30), calendar_id=TYPE)
    found = calendar.book(slot, "case-1", "consultation", CLIENT.contact_id, "key-1")
    assert fake.appointments[found]["email"] == CLIENT.email  # went through: its own appointment is found
    books[0] = False
    with pytest.raises(AmbiguousSendError):  # did not go through: nothing found, the caller must not re-send blind
        calendar.book(Slot(start=second, end=second + timedelta(minutes=30), calendar_id=TYPE), "case-2",
                      "consultation", CLIENT.contact_id, "key-2")
    assert len(fake.appointments) == 1


def test_cancel_is_an_admin_cancel_once_and_the_no_show_mark_sets_the_flag_without_email(
        acuity: tuple[FakeAcuity, AcuityCalendar]) -> None:
    fake, calendar = acuity
    row = fake.add_appointment(TYPE, datetime(2026, 1, 5, 15, tzinfo=UTC))
    appointment_id = str(row["id"])
    assert calendar.mark_no_show(appointment_id, None) is True
    (mark,) = fake.calls("PUT", f"/appointments/{appointment_id}/cancel")
    assert mark.query == {"admin": "true", "noEmail": "true"} and mark.json() == {"noShow": True}
    assert fake.appointments[appointment_id]["noShow"] is True
    calendar.cancel(TYPE, appointment_id, "moved")  # already cancelled: nothing more is sent
    assert len(fake.calls("PUT")) == 1
    other = str(fake.add_appointment(TYPE, datetime(2026, 1, 9, 15, tzinfo=UTC))["id"])
    calendar.cancel(TYPE, other, "moved")
    assert fake.calls("PUT", f"/appointments/{other}/cancel")[0].json() == {"cancelNote": "moved"}
    calendar.cancel(TYPE, "999999", None)  # gone already: done
    assert calendar.mark_no_show("999999", None) is False


def test_the_poll_lists_a_date_window_with_cancelled_ones_and_maps_each_state() -> None:
    with FakeAcuity(USER_ID, API_KEY) as fake:
        live = fake.add_appointment(TYPE, NOW + timedelta(days=1))
        missed = fake.add_appointment(TYPE, NOW - timedelta(days=1), canceled=True, noShow=True)
        cancelled = fake.add_appointment(TYPE, NOW + timedelta(days=2), canceled=True, noShow=False)
        fake.add_appointment(TYPE, NOW + timedelta(days=90))  # outside the window
        source = AcuitySource(AcuityClient(USER_ID, API_KEY, base_url=fake.base_url))
        page = source.poll(None, NOW)
        (call,) = fake.calls("GET", "/appointments")
        assert (call.query["minDate"], call.query["maxDate"], call.query["showall"]) == (
            "2025-12-30", "2026-03-07", "true")
        status = {s.appointment.appointment_id: s.status for s in page.snapshots}
        assert status == {str(live["id"]): "active", str(missed["id"]): "no_show",
                          str(cancelled["id"]): "cancelled"}
        assert page.cursor == NOW.isoformat()
        assert all(s.appointment.contact.email == "bob.mctest@example.com" for s in page.snapshots)


def test_settings_open_the_route_only_with_both_credentials_and_select_acuity_as_the_calendar(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from connectors.local.calendar import LocalCalendar
    from connectors.local.crm import LocalCrm
    from connectors.local.db import LocalDb
    from connectors.writeback import MirroredCalendar
    from policies.schema import CrmRules
    from tests.helpers import settings_from
    from workers.providers.checks import ProviderConfigError
    from workers.providers.inbound import inbound_connectors, unwrap
    from workers.providers.sources import reconcile_checks, reconcile_sources
    from workers.providers.writeback import writeback

    monkeypatch.chdir(tmp_path)
    db = LocalDb(tmp_path / "local.db")
    with pytest.raises(ProviderConfigError) as info:
        writeback(settings_from({"calendar_provider": "acuity"}), LocalCalendar(db), LocalCrm(db), [CrmRules()])
    assert "NOSHOW_ACUITY_USER_ID + NOSHOW_ACUITY_API_KEY" in str(info.value)
    key_only = settings_from({"acuity_api_key": API_KEY})
    assert "acuity" not in inbound_connectors(key_only)[0]
    assert {c.name: c.status for c in reconcile_checks(key_only)}["acuity"] == "error"
    with FakeAcuity(USER_ID, API_KEY) as fake:
        row = fake.add_appointment(TYPE, datetime(2026, 1, 9, 15, tzinfo=UTC), canceled=True, noShow=True)
        ready = settings_from({"calendar_provider": "acuity", "acuity_user_id": USER_ID, "acuity_api_key": API_KEY,
                               "acuity_base_url": fake.base_url, "acuity_appointment_type_id": TYPE})
        engine_cal, _ = writeback(ready, LocalCalendar(db), LocalCrm(db), [CrmRules()])
        assert isinstance(engine_cal, MirroredCalendar) and isinstance(engine_cal.provider, AcuityCalendar)
        assert isinstance(reconcile_sources(ready)["acuity"], AcuitySource)
        route = inbound_connectors(ready)[0]["acuity"]
        assert isinstance(unwrap(route), AcuityInbound)
        request = acuity_request(ping("changed", row), NOW)
        route.verify(request, NOW)
        (event,) = route.parse(request).events
        assert event.type == EventType.no_show and event.appointment.start == datetime(2026, 1, 9, 15, tzinfo=UTC)
        assert fake.calls("GET", f"/appointments/{row['id']}")
