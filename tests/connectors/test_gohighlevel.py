"""GoHighLevel specifics the shared kit does not cover: the signed body's own timestamp bounds replays; the
outbound side against the fake location: free slots in 31-day calls, bookings made once, appointment status
(cancel, no-show), contact fields, notes and tasks created once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, SignatureError, SlotUnavailable
from connectors.gohighlevel.calendar import GoHighLevelCalendar, marker
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.gohighlevel.crm import GoHighLevelCrm
from connectors.gohighlevel.inbound import GoHighLevelInbound
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog
from domain.models import Slot
from policies.schema import CrmRules
from tests.connectors.cases_gohighlevel import LOCATION, PUBLIC_PEM, VECTOR_BODY, ghl_request
from tests.fakes.gohighlevel_fake import FakeGoHighLevel

SIGNED_AT = datetime(2025, 1, 28, 14, 35, tzinfo=UTC)


def test_a_delivery_older_than_five_minutes_is_refused_even_with_a_good_signature() -> None:
    request = ghl_request(VECTOR_BODY, SIGNED_AT)
    GoHighLevelInbound(PUBLIC_PEM).verify(request, SIGNED_AT + timedelta(minutes=4))
    with pytest.raises(SignatureError):
        GoHighLevelInbound(PUBLIC_PEM).verify(request, SIGNED_AT + timedelta(minutes=6))


def test_a_key_that_is_not_ed25519_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError):
        GoHighLevelInbound("bm90IGEga2V5")


# ------------------------------------------------------------------ outbound: calendar, appointments, contact


NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
CAL, CONTACT = "BqTwX8QFwXzpegMve9EQ", "9NkT25Vor1v4aQatFsv2"


@pytest.fixture
def ghl(tmp_path: Path) -> Iterator[tuple[FakeGoHighLevel, GoHighLevelCalendar, GoHighLevelCrm]]:
    with FakeGoHighLevel("pit-token", LOCATION) as fake:
        fake.add_contact(CONTACT, firstName="Jane")
        client = GoHighLevelClient("pit-token", LOCATION, base_url=fake.base_url)
        crm = GoHighLevelCrm(client, CreateLog(LocalDb(tmp_path / "db.sqlite"), "gohighlevel"),
                             CrmRules(writable_fields=["outcome"], protected_fields=["risk_flag"]),
                             fields={"outcome": "cf-outcome", "risk_flag": "cf-risk"}, user_id="YlWd2wuCAZQzh2cH1fVZ",
                             clock=lambda: NOW)
        yield fake, GoHighLevelCalendar(client, clock=lambda: NOW), crm


def test_free_slots_are_read_in_31_day_calls_with_the_calendars_version(
        ghl: tuple[FakeGoHighLevel, GoHighLevelCalendar, GoHighLevelCrm]) -> None:
    fake, calendar, _ = ghl
    fake.open_slots[CAL] = [datetime(2026, 1, 7, 15, tzinfo=UTC), datetime(2026, 2, 20, 15, tzinfo=UTC)]
    busy = calendar.busy(CAL, NOW, NOW + timedelta(days=60))
    free = [(b.end, n.start) for b, n in pairwise(busy)]
    assert free == [(datetime(2026, 1, 7, 15, tzinfo=UTC), datetime(2026, 1, 7, 15, 30, tzinfo=UTC)),
                    (datetime(2026, 2, 20, 15, tzinfo=UTC), datetime(2026, 2, 20, 15, 30, tzinfo=UTC))]
    calls = fake.calls("GET", f"/calendars/{CAL}/free-slots")
    assert len(calls) == 2 and all(c.headers["version"] == "2021-04-15" for c in calls)
    assert calls[0].headers["authorization"] == "Bearer pit-token"


def test_a_booking_is_made_once_a_taken_time_re_offers_and_a_lost_answer_finds_its_own(
        ghl: tuple[FakeGoHighLevel, GoHighLevelCalendar, GoHighLevelCrm]) -> None:
    fake, calendar, _ = ghl
    at = datetime(2026, 1, 7, 15, tzinfo=UTC)
    fake.open_slots[CAL] = [at, at + timedelta(hours=1)]
    slot = Slot(start=at, end=at + timedelta(minutes=30), calendar_id=CAL)
    made = calendar.book(slot, "case-1", "consultation", f"gohighlevel:{CONTACT}", "book-1")
    row = fake.appointments[made]
    assert (row["contactId"], row["locationId"], row["appointmentStatus"]) == (CONTACT, LOCATION, "confirmed")
    assert calendar.book(slot, "case-1", "consultation", f"gohighlevel:{CONTACT}", "book-1") == made  # a retry
    with pytest.raises(SlotUnavailable):
        calendar.book(slot, "case-2", "consultation", f"gohighlevel:{CONTACT}", "book-2")
    later = slot.model_copy(update={"start": at + timedelta(hours=1), "end": at + timedelta(hours=1, minutes=30)})
    # an earlier attempt created the appointment but its answer was lost: the time is gone, the retry finds it
    fake.open_slots[CAL].remove(later.start)
    fake.appointments["lost1"] = {"id": "lost1", "contactId": CONTACT, "appointmentStatus": "confirmed",
                                  "title": f"consultation (ref {marker('book-3')})"}
    assert calendar.book(later, "case-3", "consultation", f"gohighlevel:{CONTACT}", "book-3") == "lost1"
    assert len(fake.calls("POST", "/calendars/events/appointments")) == 1
    assert fake.calls("GET", f"/contacts/{CONTACT}/appointments")[-1].headers["version"] == "2021-07-28"
    with pytest.raises(PermanentProviderError) as info:
        calendar.book(later, "case-4", "consultation", "calcom:ak-1", "book-4")
    assert info.value.code == "no_contact"


def test_status_cancel_and_no_show_go_through_the_appointment_status(
        ghl: tuple[FakeGoHighLevel, GoHighLevelCalendar, GoHighLevelCrm]) -> None:
    fake, calendar, _ = ghl
    fake.appointments["evt1"] = {"id": "evt1", "contactId": CONTACT, "appointmentStatus": "confirmed"}
    assert calendar.mark_no_show("evt1", None) is True and fake.appointments["evt1"]["appointmentStatus"] == "noshow"
    calendar.set_status("evt1", "showed")
    assert fake.appointments["evt1"]["appointmentStatus"] == "showed"
    calendar.cancel(CAL, "evt1")
    calendar.cancel(CAL, "gone")  # already gone: not an error
    assert fake.appointments["evt1"]["appointmentStatus"] == "cancelled"
    assert calendar.mark_no_show("gone", None) is False


def test_contact_fields_notes_and_tasks_are_written_once(
        ghl: tuple[FakeGoHighLevel, GoHighLevelCalendar, GoHighLevelCrm]) -> None:
    fake, _, crm = ghl
    crm.write_fields(f"gohighlevel:{CONTACT}", "evt1", {"outcome": "no_show"}, "k1")
    (put,) = fake.calls("PUT", f"/contacts/{CONTACT}")
    assert put.json() == {"customFields": [{"id": "cf-outcome", "field_value": "no_show"}]}
    assert put.headers["version"] == "2021-07-28"
    assert crm.read_fields(f"gohighlevel:{CONTACT}", "evt1")["outcome"] == "no_show"
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"gohighlevel:{CONTACT}", "evt1", {"risk_flag": "high"}, "k2")
    assert info.value.code == "protected_field"
    for _ in range(2):
        crm.append_note(f"gohighlevel:{CONTACT}", "Left a voicemail", "note-1")
        crm.create_task("cal-owner", "Call Jane back", "task-1", contact_id=f"gohighlevel:{CONTACT}")
    (note,) = fake.notes.values()
    assert note["userId"] == "YlWd2wuCAZQzh2cH1fVZ" and note["body"].startswith("Left a voicemail (ref nsk")
    (task,) = fake.tasks.values()
    assert task["completed"] is False and task["dueDate"].startswith("2026-01-07")
    crm.creates._begin("note-9", "notes")  # the POST went out, its answer was lost
    fake.notes["n9"] = {"id": "n9", "contactId": CONTACT, "body": f"x (ref {marker('note-9')})"}
    crm.append_note(f"gohighlevel:{CONTACT}", "x", "note-9")
    assert crm.creates.record_id("note-9") == (True, "n9") and len(fake.calls("POST", "/notes")) == 1
    with pytest.raises(PermanentProviderError):
        crm.append_note("calcom:ak-1", "x", "note-2")


def test_a_wrong_version_or_token_is_refused_by_the_fake_as_by_the_api() -> None:
    with FakeGoHighLevel("pit-token", LOCATION) as fake:
        with pytest.raises(PermanentProviderError) as info:
            GoHighLevelClient("wrong", LOCATION, base_url=fake.base_url).location()
        assert info.value.code == "401"
        assert GoHighLevelClient("pit-token", LOCATION, base_url=fake.base_url).location()["name"] == "Acme Clinic"


def test_settings_select_gohighlevel_as_calendar_and_crm_and_open_its_webhook(monkeypatch: pytest.MonkeyPatch,
                                                                              tmp_path: Path) -> None:
    from connectors.local.calendar import LocalCalendar
    from connectors.local.crm import LocalCrm
    from connectors.writeback import MirroredCalendar, WritebackCrm
    from tests.helpers import settings_from
    from workers.providers.checks import ProviderConfigError
    from workers.providers.inbound import inbound_connectors, unwrap
    from workers.providers.writeback import writeback

    monkeypatch.chdir(tmp_path)
    db = LocalDb(tmp_path / "local.db")
    calendar, crm = LocalCalendar(db), LocalCrm(db)
    missing = settings_from({"calendar_provider": "gohighlevel", "crm_provider": "gohighlevel"})
    with pytest.raises(ProviderConfigError) as info:
        writeback(missing, calendar, crm, [CrmRules()])
    assert "NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN" in str(info.value) and "NOSHOW_GOHIGHLEVEL_LOCATION_ID" in str(info.value)
    ready = settings_from({"calendar_provider": "gohighlevel", "crm_provider": "gohighlevel",
                           "gohighlevel_access_token": "pit-secret", "gohighlevel_location_id": LOCATION,
                           "gohighlevel_webhook_public_key": PUBLIC_PEM})
    engine_cal, engine_crm = writeback(ready, calendar, crm, [CrmRules()])
    assert isinstance(engine_cal, MirroredCalendar) and isinstance(engine_cal.provider, GoHighLevelCalendar)
    assert isinstance(engine_crm, WritebackCrm) and isinstance(engine_crm.remote, GoHighLevelCrm)
    assert engine_crm.marker is engine_cal.provider and engine_crm.marker_source == "gohighlevel"
    routes, checks = inbound_connectors(ready)
    assert isinstance(unwrap(routes["gohighlevel"]), GoHighLevelInbound)
    assert {c.name: c.status for c in checks}["gohighlevel"] == "ok"


def test_the_webhook_route_reads_the_appointments_contact_when_the_api_is_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.inbound import inbound_connectors

    monkeypatch.chdir(tmp_path)
    with FakeGoHighLevel("pit-token", LOCATION) as fake:
        fake.add_contact(CONTACT, firstName="Jane", lastName="Doe", email="jane@example.com", phone="+15555550142")
        settings = settings_from({"gohighlevel_webhook_public_key": PUBLIC_PEM, "gohighlevel_access_token": "pit-token",
                                  "gohighlevel_location_id": LOCATION, "gohighlevel_base_url": fake.base_url})
        route = inbound_connectors(settings)[0]["gohighlevel"]
        request = ghl_request(VECTOR_BODY, SIGNED_AT)
        route.verify(request, SIGNED_AT + timedelta(minutes=1))
        (event,) = route.parse(request).events
        contact = event.appointment.contact
        assert (contact.name, contact.email, contact.phone) == ("Jane Doe", "jane@example.com", "+15555550142")
        assert fake.calls("GET", f"/contacts/{CONTACT}")[0].headers["version"] == "2021-07-28"
