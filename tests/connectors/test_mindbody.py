"""Mindbody specifics the shared kit does not cover: site-local times, the `sha256=` prefix, the staff user token
(issued once, issued again on a 401), paging, the reconcile poll of appointments and class visits (statuses,
clients read once, the visits' modified-date cursor), the calendar on bookable items (documented booking body,
a taken time, a retry that finds its own booking, cancel), the client follow-up on webhooks and the wiring."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.contract import PermanentProviderError, SignatureError, SlotUnavailable
from connectors.local.remote_creates import marker
from connectors.mindbody.calendar import MindbodyCalendar
from connectors.mindbody.client import MindbodyClient
from connectors.mindbody.inbound import MindbodyInbound
from connectors.mindbody.source import MindbodySource
from domain.models import Slot
from tests.connectors.cases_mindbody import KEY, mindbody_request
from tests.connectors.kit import fixture_bytes
from tests.fakes.mindbody_fake import FakeMindbody
from tests.helpers import settings_from

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeMindbody]:
    with FakeMindbody() as server:
        yield server


def client_for(fake: FakeMindbody, zone: str = "UTC", password: str = "owner-pass") -> MindbodyClient:
    return MindbodyClient("mb-api-key", "-99", "owner", password, base_url=f"{fake.base_url}/public/v6",
                          time_zone=zone)


# ------------------------------------------------------------------ inbound


def test_times_without_an_offset_are_read_in_the_sites_zone() -> None:
    body = fixture_bytes("mindbody", "appointment_created.json")
    inbound = MindbodyInbound(KEY, time_zone="America/New_York")
    request = mindbody_request(body, NOW)
    inbound.verify(request, NOW)
    (event,) = inbound.parse(request).events
    assert event.appointment.start == datetime(2026, 1, 7, 15, tzinfo=UTC)  # 10:00 in New York in January
    assert event.appointment.end == datetime(2026, 1, 7, 16, tzinfo=UTC)


def test_a_signature_without_the_sha256_prefix_is_refused() -> None:
    body = fixture_bytes("mindbody", "appointment_created.json")
    good = mindbody_request(body, NOW)
    bare = good.model_copy(update={"headers": {
        **good.headers, "x-mindbody-signature": good.headers["x-mindbody-signature"].removeprefix("sha256=")}})
    with pytest.raises(SignatureError):
        MindbodyInbound(KEY).verify(bare, NOW)
    MindbodyInbound(KEY).verify(good, NOW)


def test_the_service_name_never_reaches_the_appointment() -> None:
    body = fixture_bytes("mindbody", "appointment_created.json")
    assert b"Deep Tissue Massage" in body
    (event,) = MindbodyInbound(KEY).parse(mindbody_request(body, NOW)).events
    assert "Massage" not in event.model_dump_json()


# ------------------------------------------------------------------ client: token, headers, paging


def test_the_staff_token_is_issued_once_and_again_after_a_401(fake: FakeMindbody) -> None:
    client = client_for(fake)
    client.staff_appointments(NOW, NOW + timedelta(days=1))
    client.staff_appointments(NOW, NOW + timedelta(days=1))
    assert len(fake.calls("POST", "/usertoken/issue")) == 1
    [first, *_] = fake.calls("GET", "/appointment/staffappointments")
    assert first.headers["api-key"] == "mb-api-key" and first.headers["siteid"] == "-99"
    assert first.headers["authorization"] in fake.tokens
    assert fake.calls("POST", "/usertoken/issue")[0].json() == {"Username": "owner", "Password": "owner-pass"}
    fake.revoke_tokens()
    client.staff_appointments(NOW, NOW + timedelta(days=1))
    assert len(fake.calls("POST", "/usertoken/issue")) == 2


def test_a_wrong_staff_password_is_a_permanent_error_naming_mindbodys_code(fake: FakeMindbody) -> None:
    with pytest.raises(PermanentProviderError) as info:
        client_for(fake, password="guessed").staff_appointments(NOW, NOW + timedelta(days=1))
    assert info.value.code == "InvalidCredentials"
    assert "guessed" not in str(info.value)


def test_appointments_are_read_across_pages_in_site_local_time(fake: FakeMindbody) -> None:
    client_id = fake.add_client("Ana", "Silva", "ana@example.com", "+15555550100")
    for i in range(130):
        fake.add_appointment(client_id, NOW + timedelta(minutes=30 * i))
    client = client_for(fake, zone="Europe/Paris")
    rows = client.staff_appointments(NOW - timedelta(hours=2), NOW + timedelta(days=3))
    assert len(rows) == 130 and len({r["Id"] for r in rows}) == 130
    pages = fake.calls("GET", "/appointment/staffappointments")
    assert [p.query["request.offset"] for p in pages] == ["0", "100"]
    assert pages[0].query["request.startDate"] == "2026-01-06T15:00:00"  # 14:00 UTC is 15:00 in Paris


# ------------------------------------------------------------------ reconcile poll


def test_the_poll_maps_statuses_and_reads_each_client_once(fake: FakeMindbody) -> None:
    ana = fake.add_client("Ana", "Silva", "ana@example.com", "+15555550100")
    ben = fake.add_client("Ben", "Ode", "ben@example.com", "+15555550101")
    ids = {status: fake.add_appointment(ana if i % 2 else ben, NOW - timedelta(hours=3 + i), status=status)
           for i, status in enumerate(["NoShow", "Completed", "Arrived", "LateCancelled", "Cancelled", "Booked",
                                       "Confirmed", "Requested"])}
    page = MindbodySource(client_for(fake), classes=False).poll(None, NOW)
    by_id = {s.appointment.appointment_id: s for s in page.snapshots}
    assert {status: by_id[str(i)].status for status, i in ids.items()} == {
        "NoShow": "no_show", "Completed": "attended", "Arrived": "attended", "LateCancelled": "cancelled",
        "Cancelled": "cancelled", "Booked": "active", "Confirmed": "active", "Requested": "active"}
    snap = by_id[str(ids["NoShow"])]
    assert snap.appointment.contact.contact_id == f"mindbody:{ben}"
    assert snap.appointment.contact.phone == "+15555550101" and snap.appointment.contact.name == "Ben Ode"
    assert snap.appointment.calendar_id == "12@1" and snap.appointment.appointment_type == "session-type-12"
    [clients] = fake.calls("GET", "/client/clients")
    assert sorted(v for k, v in clients.query_pairs if k == "request.clientIDs") == sorted([ana, ben])


def test_class_visits_are_polled_with_the_modified_date_cursor(fake: FakeMindbody) -> None:
    ana = fake.add_client("Ana", "Silva", "ana@example.com", "+15555550100")
    start = NOW - timedelta(hours=5)
    late = fake.add_class_visit(ana, start, late_cancelled=True, modified=NOW - timedelta(hours=6))
    came = fake.add_class_visit(ana, start, signed_in=True, modified=NOW - timedelta(hours=4))
    source = MindbodySource(client_for(fake))
    first = source.poll(None, NOW)
    statuses = {s.appointment.appointment_id: s.status for s in first.snapshots}
    assert statuses == {f"class-visit-{late}": "cancelled", f"class-visit-{came}": "attended"}
    assert first.cursor == (NOW - timedelta(hours=4)).isoformat()
    fake.visits[came].update(SignedIn=False, LateCancelled=True, LastModifiedDateTime=fake.wall(NOW))
    later = NOW + timedelta(minutes=10)
    second = source.poll(first.cursor, later)
    assert [(s.appointment.appointment_id, s.status) for s in second.snapshots] == [
        (f"class-visit-{came}", "cancelled")]  # the unchanged visit is not listed again
    [_, visits] = fake.calls("GET", "/class/classvisits")[-2:]
    assert visits.query["request.lastModifiedDate"] == "2026-01-06T12:00:00"


# ------------------------------------------------------------------ calendar


@pytest.fixture
def booked(fake: FakeMindbody) -> tuple[FakeMindbody, MindbodyCalendar, str]:
    client_id = fake.add_client("Ana", "Silva", "ana@example.com", "+15555550100")
    fake.open_window(NOW + timedelta(days=1), NOW + timedelta(days=1, hours=3), staff=7)
    return fake, MindbodyCalendar(client_for(fake), slot_minutes=60, clock=lambda: NOW), client_id


def test_bookable_items_become_slots_of_their_staff(booked: tuple[FakeMindbody, MindbodyCalendar, str]) -> None:
    fake, calendar, _ = booked
    day = NOW + timedelta(days=1)
    busy = calendar.busy("12@1", day - timedelta(hours=1), day + timedelta(hours=4))
    assert [(b.start, b.end) for b in busy] == [(day - timedelta(hours=1), day),
                                                (day + timedelta(hours=3), day + timedelta(hours=4))]
    [request] = fake.calls("GET", "/appointment/bookableitems")
    assert request.query["request.sessionTypeIds"] == "12" and request.query["request.locationIds"] == "1"


def test_a_booking_sends_the_documented_body_and_is_found_again_on_retry(
        booked: tuple[FakeMindbody, MindbodyCalendar, str]) -> None:
    fake, calendar, client_id = booked
    start = NOW + timedelta(days=1, hours=1)
    slot = Slot(start=start, end=start + timedelta(hours=1), calendar_id="12@1", owner_id="7")
    made = calendar.book(slot, "case-1", "session-type-12", f"mindbody:{client_id}", "key-1")
    [create] = fake.calls("POST", "/appointment/addappointment")
    assert create.json() == {"ClientId": client_id, "LocationId": 1, "SessionTypeId": 12, "StaffId": 7,
                             "StartDateTime": "2026-01-07T17:00:00", "EndDateTime": "2026-01-07T18:00:00",
                             "Notes": f"rebooked (ref {marker('key-1')})"}
    assert fake.appointments[int(made)]["Status"] == "Booked"
    # the same booking retried (its first answer lost): the time is now taken, and the booking is ours
    again = MindbodyCalendar(client_for(fake), clock=lambda: NOW)
    assert again.book(slot, "case-1", "session-type-12", f"mindbody:{client_id}", "key-1") == made
    assert len(fake.calls("POST", "/appointment/addappointment")) == 1
    with pytest.raises(SlotUnavailable):
        again.book(slot, "case-2", "session-type-12", f"mindbody:{client_id}", "key-2")


def test_a_time_anywhere_in_a_bookable_item_is_booked_with_its_staff_member(
        booked: tuple[FakeMindbody, MindbodyCalendar, str]) -> None:
    fake, calendar, client_id = booked
    fake.open_window(NOW + timedelta(days=2), NOW + timedelta(days=2, hours=2), staff=9)
    start = NOW + timedelta(days=2, minutes=45)  # not a window's first start: any start up to the last one
    slot = Slot(start=start, end=start + timedelta(hours=1), calendar_id="12@1", owner_id=None)
    made = calendar.book(slot, "case-1", "session-type-12", f"mindbody:{client_id}", "key-3")
    assert fake.appointments[int(made)]["StaffId"] == 9
    late = NOW + timedelta(days=2, hours=1, minutes=30)  # past the window's last start (an hour before its end)
    with pytest.raises(SlotUnavailable):
        calendar.book(Slot(start=late, end=late + timedelta(hours=1), calendar_id="12@1"), "case-2", "t",
                      f"mindbody:{client_id}", "key-4")


def test_a_booking_whose_answer_was_lost_is_found_not_made_twice(
        booked: tuple[FakeMindbody, MindbodyCalendar, str]) -> None:
    fake, _, client_id = booked
    client = MindbodyClient("mb-api-key", "-99", "owner", "owner-pass", base_url=f"{fake.base_url}/public/v6",
                            timeout=0.3)
    calendar = MindbodyCalendar(client, clock=lambda: NOW)
    start = NOW + timedelta(days=1)
    slot = Slot(start=start, end=start + timedelta(hours=1), calendar_id="12@1", owner_id="7")
    fake.answer_delay = 0.6
    made = calendar.book(slot, "case-1", "t", f"mindbody:{client_id}", "key-9")
    assert list(fake.appointments) == [int(made)]
    assert len(fake.calls("POST", "/appointment/addappointment")) == 1


def test_only_mindbody_clients_can_be_booked_and_cancel_is_idempotent(
        booked: tuple[FakeMindbody, MindbodyCalendar, str]) -> None:
    fake, calendar, client_id = booked
    start = NOW + timedelta(days=1)
    slot = Slot(start=start, end=start + timedelta(hours=1), calendar_id="cal-dr-lee", owner_id=None)
    with pytest.raises(PermanentProviderError) as info:
        calendar.book(slot, "case-1", "t", "calcom:ak-123", "k")
    assert info.value.code == "no_contact"
    with pytest.raises(PermanentProviderError) as info:  # another source's calendar and no default set
        calendar.book(slot, "case-1", "t", f"mindbody:{client_id}", "k")
    assert info.value.code == "no_calendar"
    appointment = fake.add_appointment(client_id, start + timedelta(days=2))
    calendar.cancel("12@1", str(appointment))
    assert fake.appointments[appointment]["Status"] == "Cancelled"
    assert fake.calls("POST", "/appointment/updateappointment")[0].json()["Execute"] == "Cancel"
    calendar.cancel("12@1", "999999")  # already gone at Mindbody: not an error
    calendar.cancel("12@1", "class-visit-5")  # not an appointment of ours: nothing sent
    assert len(fake.calls("POST", "/appointment/updateappointment")) == 2


# ------------------------------------------------------------------ wiring


def mindbody_env(fake: FakeMindbody, **more: str) -> dict[str, str]:
    return {"mindbody_signature_key": KEY, "mindbody_api_key": "mb-api-key", "mindbody_site_id": "-99",
            "mindbody_username": "owner", "mindbody_password": "owner-pass",
            "mindbody_base_url": f"{fake.base_url}/public/v6", **more}


def test_a_webhook_reads_the_clients_phone_and_email_from_the_api(fake: FakeMindbody, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.providers.inbound import inbound_connectors

    monkeypatch.chdir(tmp_path)
    client_id = fake.add_client("Ana", "Silva", "ana@example.com", "+15555550100")
    body = fixture_bytes("mindbody", "appointment_noshow.json").replace(b"100000042", client_id.encode())
    routes, checks = inbound_connectors(settings_from(mindbody_env(fake)))
    [check] = [c for c in checks if c.name == "mindbody"]
    assert check.status == "ok"
    request = mindbody_request(body, NOW)
    routes["mindbody"].verify(request, NOW)
    (event,) = routes["mindbody"].parse(request).events
    assert event.appointment.contact.phone == "+15555550100"
    assert event.appointment.contact.email == "ana@example.com"
    assert event.appointment.contact.contact_id == f"mindbody:{client_id}"


def test_settings_open_the_route_the_poll_and_the_calendar(fake: FakeMindbody, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.providers.sources import reconcile_checks, reconcile_sources
    from workers.providers.writeback import calendar_problems

    monkeypatch.chdir(tmp_path)
    settings = settings_from(mindbody_env(fake, calendar_provider="mindbody", mindbody_calendar="12@1"))
    assert isinstance(reconcile_sources(settings)["mindbody"], MindbodySource)
    assert calendar_problems(settings) == []
    bad = settings_from(mindbody_env(fake, calendar_provider="mindbody", mindbody_calendar="massage",
                                     mindbody_password=""))
    problems = calendar_problems(bad)
    assert "NOSHOW_CALENDAR_PROVIDER=mindbody needs NOSHOW_MINDBODY_PASSWORD" in problems
    assert "NOSHOW_MINDBODY_CALENDAR must be <sessionTypeId>@<locationId>" in problems
    [check] = [c for c in reconcile_checks(bad) if c.name == "mindbody"]
    assert check.status == "error" and "NOSHOW_MINDBODY_PASSWORD" in check.detail


def test_connectors_check_says_when_mindbody_is_handled_as_health_data(fake: FakeMindbody, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.cli.connectors import webhook_checks

    monkeypatch.chdir(tmp_path)
    plain = {c.name: c for c in webhook_checks(settings_from(mindbody_env(fake)))}["mindbody"]
    health = {c.name: c for c in webhook_checks(settings_from(mindbody_env(fake, mindbody_health="true")))}
    assert plain.status == "ok" and "health" not in plain.detail
    assert health["mindbody"].status == "ok" and "handled as health data" in health["mindbody"].detail
    calendar = {c.name: c for c in webhook_checks(settings_from(mindbody_env(fake, mindbody_calendar="yoga")))}
    assert calendar["mindbody"].status == "error" and "NOSHOW_MINDBODY_CALENDAR" in calendar["mindbody"].detail
    with pytest.raises(ValidationError, match="IANA time zone"):
        settings_from(mindbody_env(fake, mindbody_time_zone="Mars/Base"))


def test_a_health_practice_gets_only_ids_times_status_and_telecom(fake: FakeMindbody, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.providers.inbound import inbound_connectors
    from workers.providers.sources import reconcile_sources

    monkeypatch.chdir(tmp_path)
    client_id = fake.add_client("Ana", "Silva", "ana@example.com", "+15555550100")
    fake.add_appointment(client_id, NOW - timedelta(hours=2), status="NoShow")
    settings = settings_from(mindbody_env(fake, mindbody_health="true"))
    body = fixture_bytes("mindbody", "appointment_noshow.json").replace(b"100000042", client_id.encode())
    routes, _ = inbound_connectors(settings)
    (event,) = routes["mindbody"].parse(mindbody_request(body, NOW)).events
    [snapshot] = reconcile_sources(settings)["mindbody"].poll(None, NOW).snapshots
    for contact in (event.appointment.contact, snapshot.appointment.contact):
        assert contact.name is None and contact.phone == "+15555550100" and contact.email == "ana@example.com"
    assert "Ana" not in event.model_dump_json() + snapshot.model_dump_json()
