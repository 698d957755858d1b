"""Square Appointments: the signature over the exact notification URL (checked with the official SDK's helper),
the follow-up customer read, the calendar against the fake (SearchAvailability ranges, a re-check with the
service variation's version, CreateBooking's idempotency key, CancelBooking at the current version, customers
found by email or phone), the ListBookings poll and its cursor pages, and the wiring from settings. Replays,
forgeries and error mapping run through the conformance kit (cases_square.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from square.utils.webhooks_helper import verify_signature

from connectors.contract import BusyInterval, PermanentProviderError, SignatureError, SlotUnavailable
from connectors.square.calendar import SquareCalendar
from connectors.square.client import SquareClient
from connectors.square.inbound import SquareInbound
from connectors.square.source import SquareSource
from domain.models import Contact, EventType, Slot
from tests.connectors.cases_square import KEY, square_request
from tests.connectors.kit import NOW, fixture_bytes
from tests.fakes.base import RecordedRequest
from tests.fakes.square_fake import LOCATION, SERVICE, SERVICE_VERSION, TEAM, FakeSquare, booking_event

TOKEN = "EAAAl-sandbox-token"
CAL = f"{LOCATION}:{SERVICE}"
CUSTOMER = "SSKBT02ECWZXK6W3VWYC78E52R"


def creates(fake: FakeSquare) -> list[RecordedRequest]:
    return [c for c in fake.calls("POST") if c.path == "/v2/bookings"]


def test_the_signature_covers_the_exact_notification_url_prefix_included() -> None:
    body = fixture_bytes("square", "booking_no_show.json")
    public = "https://example.com/prefix/webhooks/square"
    signed = square_request(body, NOW, url=public)
    assert verify_signature(request_body=body.decode(), signature_header=signed.headers[
        "x-square-hmacsha256-signature"], signature_key=KEY, notification_url=public)
    SquareInbound(KEY).verify(signed, NOW)
    stripped = signed.model_copy(update={"url": "https://example.com/webhooks/square"})
    with pytest.raises(SignatureError):
        SquareInbound(KEY).verify(stripped, NOW)  # a proxy's prefix dropped: another URL, another signature
    # the subscription's URL set explicitly wins over the URL the request reached
    SquareInbound(KEY, notification_url=public).verify(stripped, NOW)
    pretty = signed.model_copy(update={"body": body.replace(b",", b", ")})
    with pytest.raises(SignatureError):
        SquareInbound(KEY).verify(pretty, NOW)  # never re-serialised


def test_a_late_cancellation_by_the_customer_is_the_customers_and_one_by_the_seller_never_is() -> None:
    from policies.attendance import AttendanceInput, decide
    from policies.schema import AttendanceRules

    for name, verdict in (("booking_cancelled_by_customer.json", "late_cancel"),
                          ("booking_cancelled_by_seller.json", "cancelled")):
        request = square_request(fixture_bytes("square", name), NOW)
        (event,) = SquareInbound(KEY).parse(request).events
        assert event.type == EventType.cancelled and event.signal is not None
        decision = decide(AttendanceInput(appointment=event.appointment, signals=[event.signal],
                                          rules=AttendanceRules(), now=event.appointment.end + timedelta(hours=1)))
        assert decision.verdict.value == verdict, name


def test_a_body_without_a_booking_is_a_payload_error_and_other_event_types_are_listed() -> None:
    from connectors.inbound import PayloadError

    inbound = SquareInbound(KEY)
    bad = square_request(b'{"type":"booking.updated","event_id":"e1","data":{"object":{}}}', NOW)
    with pytest.raises(PayloadError):
        inbound.parse(bad)
    other = square_request(b'{"type":"customer.updated","event_id":"e2","data":{}}', NOW)
    assert inbound.parse(other).unknown_types == ["customer.updated"]


@pytest.fixture
def square() -> Iterator[tuple[FakeSquare, SquareCalendar]]:
    with FakeSquare(TOKEN) as fake:
        contacts = {"acuity:ak-jane": Contact(contact_id="acuity:ak-jane", email="jane@example.com")}
        client = SquareClient(TOKEN, base_url=fake.base_url)
        yield fake, SquareCalendar(client, contacts.get, default_calendar=CAL, clock=lambda: NOW)


def test_availability_is_searched_in_ranges_square_accepts_and_holds_stay_local(
        square: tuple[FakeSquare, SquareCalendar]) -> None:
    fake, calendar = square
    times = [*fake.free_after(datetime(2026, 1, 7, 15, tzinfo=UTC), 2), datetime(2026, 2, 25, 15, tzinfo=UTC)]
    fake.open_times.append(times[-1])
    short = calendar.busy(CAL, NOW, NOW + timedelta(hours=2))  # shorter than Square's 24 h minimum
    asked = fake.calls("POST", "/v2/bookings/availability/search")[0].json()["query"]["filter"]["start_at_range"]
    assert asked == {"start_at": "2026-01-06T15:30:00Z", "end_at": "2026-01-07T15:30:00Z"}
    assert short == [BusyInterval(start=NOW, end=NOW + timedelta(hours=2))]
    busy = calendar.busy(CAL, NOW, NOW + timedelta(days=60))
    calls = fake.calls("POST", "/v2/bookings/availability/search")
    assert len(calls) == 1 + 2  # 60 days in two ranges of at most 31 days
    assert all(c.headers["square-version"] == "2026-09-16" and c.headers["authorization"] == f"Bearer {TOKEN}"
               for c in calls)
    for at in times:
        assert not any(b.start <= at < b.end for b in busy)
    slot = Slot(start=times[0], end=times[0] + timedelta(minutes=30), calendar_id=CAL, owner_id=TEAM)
    calendar.hold(slot, "case-1", NOW + timedelta(hours=1))
    assert any(b.start <= times[0] < b.end for b in calendar.busy(CAL, NOW, NOW + timedelta(days=2)))
    assert not creates(fake)


def test_a_booking_re_checks_the_time_carries_the_version_and_books_once_per_key(
        square: tuple[FakeSquare, SquareCalendar]) -> None:
    fake, calendar = square
    fake.add_customer(CUSTOMER, given_name="Jane", email_address="jane@example.com")
    first, second = fake.free_after(datetime(2026, 1, 7, 15, tzinfo=UTC), 2)
    slot = Slot(start=first, end=first + timedelta(minutes=30), calendar_id=CAL, owner_id=TEAM)
    booked = calendar.book(slot, "case-1", "consultation", f"square:{CUSTOMER}", "key-1")
    (create,) = creates(fake)
    body = create.json()
    assert body["idempotency_key"] == "key-1"
    assert body["booking"] == {"location_id": LOCATION, "start_at": "2026-01-07T15:00:00Z", "customer_id": CUSTOMER,
                               "appointment_segments": [{"team_member_id": TEAM, "service_variation_id": SERVICE,
                                                         "service_variation_version": SERVICE_VERSION,
                                                         "duration_minutes": 30}]}
    # a contact from another source is found by exact email; a team member Square no longer offers is replaced
    # by the one it offers (busy() counted the time free because someone is)
    other = Slot(start=second, end=second + timedelta(minutes=30), calendar_id=CAL, owner_id="TMformer0000000000")
    again = calendar.book(other, "case-2", "x", "acuity:ak-jane", "key-2")
    assert fake.bookings[again]["customer_id"] == CUSTOMER and again != booked
    assert fake.bookings[again]["appointment_segments"][0]["team_member_id"] == TEAM
    search = fake.calls("POST", "/v2/customers/search")[0].json()
    assert search["query"]["filter"] == {"email_address": {"exact": "jane@example.com"}}
    with pytest.raises(SlotUnavailable):  # taken now: never double-booked
        calendar.book(slot, "case-3", "consultation", f"square:{CUSTOMER}", "key-3")
    assert len(creates(fake)) == 2
    with pytest.raises(PermanentProviderError) as info:
        calendar.book(slot, "case-4", "x", "calcom:ak-unknown", "key-4")
    assert info.value.code == "no_contact"


def test_a_retried_create_with_the_same_key_answers_the_same_booking(square: tuple[FakeSquare, SquareCalendar]) -> None:
    fake, calendar = square
    (at,) = fake.free_after(datetime(2026, 1, 7, 15, tzinfo=UTC), 1)
    offer = {"team_member_id": TEAM, "service_variation_id": SERVICE, "service_variation_version": SERVICE_VERSION,
             "duration_minutes": 30}
    booking = {"location_id": LOCATION, "start_at": "2026-01-07T15:00:00Z", "customer_id": CUSTOMER,
               "appointment_segments": [offer]}
    made = calendar.client.create_booking(booking, "key-1")
    assert calendar.client.create_booking(booking, "key-1")["id"] == made["id"]
    assert len(fake.bookings) == 1 and at not in fake.open_times


def test_cancel_sends_the_current_version_once_and_a_gone_booking_is_done(
        square: tuple[FakeSquare, SquareCalendar]) -> None:
    fake, calendar = square
    booking = fake.add_booking(CUSTOMER, datetime(2026, 1, 9, 15, tzinfo=UTC))
    fake.set_status(booking["id"], "ACCEPTED")  # version 1 now
    calendar.cancel(CAL, booking["id"], "moved")
    (cancel,) = fake.calls("POST", f"/v2/bookings/{booking['id']}/cancel")
    assert cancel.json()["booking_version"] == 1 and cancel.json()["idempotency_key"]
    assert fake.bookings[booking["id"]]["status"] == "CANCELLED_BY_SELLER"
    calendar.cancel(CAL, booking["id"], "moved")  # already cancelled: nothing more
    assert len(fake.calls("POST", "/cancel")) == 1
    calendar.cancel(CAL, "no-such-booking", None)


def test_the_poll_lists_a_start_window_follows_cursor_pages_and_reads_each_customer_once() -> None:
    with FakeSquare(TOKEN) as fake:
        fake.page_size = 2
        fake.add_customer(CUSTOMER, given_name="Jane", family_name="Doe", email_address="jane@example.com",
                          phone_number="+15555550142")
        rows = [fake.add_booking(CUSTOMER, NOW + timedelta(days=d), status) for d, status in
                ((-2, "NO_SHOW"), (-1, "CANCELLED_BY_CUSTOMER"), (1, "ACCEPTED"), (2, "PENDING"), (3, "DECLINED"))]
        source = SquareSource(SquareClient(TOKEN, base_url=fake.base_url), location_id=LOCATION)
        page = source.poll(None, NOW)
        lists = fake.calls("GET", "/v2/bookings")
        assert [c.query.get("cursor") for c in lists] == [None, "2", "4"]
        assert lists[0].query["start_at_min"] == "2025-12-30T15:30:00Z"
        assert lists[0].query["start_at_max"] == "2026-01-30T15:30:00Z" and lists[0].query["location_id"] == LOCATION
        status = {s.appointment.appointment_id: s.status for s in page.snapshots}
        assert status == {rows[0]["id"]: "no_show", rows[1]["id"]: "cancelled", rows[2]["id"]: "active",
                          rows[4]["id"]: "cancelled"}
        assert len(fake.calls("GET", f"/v2/customers/{CUSTOMER}")) == 1
        contact = page.snapshots[0].appointment.contact
        assert (contact.contact_id, contact.name, contact.email) == (f"square:{CUSTOMER}", "Jane Doe",
                                                                     "jane@example.com")
        assert page.cursor is not None and datetime.fromisoformat(page.cursor) <= NOW


def test_settings_open_the_route_read_the_customer_and_select_square_as_the_calendar(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from connectors.local.calendar import LocalCalendar
    from connectors.local.crm import LocalCrm
    from connectors.local.db import LocalDb
    from connectors.writeback import MirroredCalendar
    from policies.schema import CrmRules
    from tests.helpers import settings_from
    from workers.providers.checks import ProviderConfigError
    from workers.providers.inbound import inbound_connectors
    from workers.providers.sources import reconcile_sources
    from workers.providers.writeback import writeback

    monkeypatch.chdir(tmp_path)
    db = LocalDb(tmp_path / "local.db")
    with pytest.raises(ProviderConfigError) as info:
        writeback(settings_from({"calendar_provider": "square", "square_access_token": TOKEN,
                                 "square_location_id": LOCATION}), LocalCalendar(db), LocalCrm(db), [CrmRules()])
    assert "NOSHOW_SQUARE_SERVICE_VARIATION_ID" in str(info.value)
    with FakeSquare(TOKEN) as fake:
        fake.add_customer(CUSTOMER, given_name="Jane", email_address="jane@example.com")
        url = "https://noshow.example.com/api/webhooks/square"
        ready = settings_from({"calendar_provider": "square", "square_access_token": TOKEN,
                               "square_base_url": fake.base_url, "square_signature_key": KEY,
                               "square_notification_url": url, "square_location_id": LOCATION,
                               "square_service_variation_id": SERVICE})
        engine_cal, _ = writeback(ready, LocalCalendar(db), LocalCrm(db), [CrmRules()])
        assert isinstance(engine_cal, MirroredCalendar) and isinstance(engine_cal.provider, SquareCalendar)
        assert isinstance(reconcile_sources(ready)["square"], SquareSource)
        route = inbound_connectors(ready)[0]["square"]
        body = booking_event(fake.set_status(fake.add_booking(CUSTOMER, NOW - timedelta(hours=2))["id"], "NO_SHOW"))
        request = square_request(body, NOW, url=url).model_copy(update={"url": "http://127.0.0.1/webhooks/square"})
        route.verify(request, NOW)
        (event,) = route.parse(request).events
        assert event.type == EventType.no_show and event.appointment.contact.email == "jane@example.com"
