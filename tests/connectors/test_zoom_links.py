"""Zoom meetings linked to bookings, and Zoom webhooks turned into attendance evidence for the booking's case,
without Temporal: the link table, the participant log and the events `ZoomAttendance` produces."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.contract import RawRequest, WebhookResult
from connectors.local.calendar import LocalCalendar
from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from connectors.local.meeting_links import MeetingLinks
from connectors.signatures import hmac_sha256_hex
from connectors.zoom.inbound import ZoomInbound
from connectors.zoom.links import ZoomAttendance, ZoomLinker, zoom_meeting_ids
from domain.ids import address_key_for
from domain.models import Appointment, AppointmentEvent, Contact, EventType, SignalKind

SECRET = "zoom-links-secret-token"
MEETING = "85012345678"
START = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
GUEST = "pat.guest@example.com"


def _appt(appointment_id: str = "booking-1", start: datetime = START) -> Appointment:
    return Appointment(source="calcom", appointment_id=appointment_id, appointment_type="consultation",
                       start=start, end=start + timedelta(minutes=30),
                       contact=Contact(contact_id="calcom:c-1", name="Pat Guest", email=GUEST, phone="+15551234567",
                                       timezone="America/New_York"))


def _zoom(event: str, obj: dict[str, Any], at: datetime) -> RawRequest:
    body = json.dumps({"event": event, "event_ts": int(at.timestamp() * 1000),
                       "payload": {"account_id": "A", "object": obj}}).encode()
    ts = str(int(at.timestamp()))
    return RawRequest(method="POST", url="https://example.com/webhooks/zoom", body=body, headers={
        "x-zm-signature": "v0=" + hmac_sha256_hex(SECRET, f"v0:{ts}:".encode() + body),
        "x-zm-request-timestamp": ts})


def _meeting(**extra: Any) -> dict[str, Any]:
    return {"id": MEETING, "uuid": "sess-1==", "host_id": "HOST1", "topic": "Consultation", "type": 2,
            "start_time": START.isoformat(), "duration": 30, "timezone": "UTC", **extra}


def _participant(event: str, pid: str, email: str, joined: datetime, left: datetime | None = None,
                 user_id: str = "1677") -> RawRequest:
    part = {"user_id": user_id, "user_name": "Someone", "id": "", "participant_uuid": pid,
            "join_time": joined.isoformat(), "email": email, "registrant_id": ""}
    if left is not None:
        part["leave_time"] = left.isoformat()
    return _zoom(event, _meeting(participant=part), left or joined)


def _host(joined: datetime) -> RawRequest:
    part = {"user_id": "HOST1", "user_name": "Dr Host", "id": "HOST1", "participant_uuid": "P-HOST",
            "join_time": joined.isoformat(), "email": "host@clinic.example"}
    return _zoom("meeting.participant_joined", _meeting(participant=part), joined)


def _ended(at: datetime) -> RawRequest:
    return _zoom("meeting.ended", _meeting(end_time=at.isoformat()), at)


class Zoom:
    def __init__(self, tmp: Path) -> None:
        self.db = LocalDb(tmp / "local.db")
        self.links = MeetingLinks(self.db)
        self.crm = LocalCrm(self.db)
        self.calendar = LocalCalendar(self.db)
        self.inbound = ZoomInbound(SECRET)
        self.attendance = ZoomAttendance(self.links, "salt-1", calendar=self.calendar, contact_lookup=self.crm.contact)
        self.linker = ZoomLinker(self.links, "salt-1")

    def deliver(self, request: RawRequest) -> WebhookResult:
        signed_at = datetime.fromtimestamp(int(request.headers["x-zm-request-timestamp"]), UTC)
        self.inbound.check_signature(request, signed_at)
        return self.attendance.resolve(self.inbound, request, self.inbound.parse(request))


@pytest.fixture
def zoom(tmp_path: Path) -> Zoom:
    return Zoom(tmp_path)


def test_meeting_ids_are_found_in_join_links_of_any_shape() -> None:
    assert zoom_meeting_ids("Join: https://us02web.zoom.us/j/85012345678?pwd=abc") == {"85012345678"}
    assert zoom_meeting_ids(b'{"location": "https:\\/\\/acme.zoom.us\\/j\\/912345678"}') == {"912345678"}
    assert zoom_meeting_ids("https://zoom.us/w/12345678901?tk=x and zoommtg://zoom.us/join?confno=987654321") == {
        "12345678901", "987654321"}
    assert zoom_meeting_ids("https://zoomgov.com/j/1234567890") == {"1234567890"}
    # too short to be a meeting id, a personal link name, another host, a longer number
    assert zoom_meeting_ids("https://zoom.us/j/123 https://zoom.us/my/drlee https://zoom.example.com/j/123456789"
                            " https://zoom.us/j/123456789012345") == set()


def test_a_booking_webhook_with_one_zoom_link_is_linked_and_moves_with_the_booking(zoom: Zoom) -> None:
    appt = _appt()
    booked = WebhookResult(events=[AppointmentEvent(event_id="e1", type=EventType.booked, occurred_at=START,
                                                    appointment=appt)])
    assert zoom.linker.observe(booked, b'{"location": "https://us02web.zoom.us/j/85012345678?pwd=x"}') == MEETING
    link = zoom.links.find("zoom", MEETING, START + timedelta(minutes=5))
    assert link is not None and link.appointment.appointment_id == "booking-1"
    assert link.guest_key == address_key_for(GUEST, "salt-1")
    assert link.appointment.contact.email is None and link.appointment.contact.phone is None  # no PII kept
    # ambiguous bodies link nothing: two meetings, or no booking
    assert zoom.linker.observe(booked, b"https://zoom.us/j/111111111 https://zoom.us/j/222222222") is None
    assert zoom.linker.observe(WebhookResult(), b"https://zoom.us/j/333333333") is None
    # the booking moved two days: its link follows (events of the old time no longer find it)
    later = START + timedelta(days=2)
    moved = WebhookResult(events=[AppointmentEvent(event_id="e2", type=EventType.rescheduled, occurred_at=START,
                                                   appointment=appt, new_start=later,
                                                   new_end=later + timedelta(minutes=30))])
    zoom.linker.observe(moved, b"{}")
    assert zoom.links.find("zoom", MEETING, START) is None
    found = zoom.links.find("zoom", MEETING, later)
    assert found is not None and found.appointment.start == later


def test_a_reused_meeting_id_finds_the_booking_of_that_day(zoom: Zoom) -> None:
    zoom.linker.link(_appt("monday"), MEETING)
    zoom.linker.link(_appt("wednesday", START + timedelta(days=2)), MEETING)
    assert zoom.links.find("zoom", MEETING, START + timedelta(minutes=40)).appointment.appointment_id == "monday"  # type: ignore[union-attr]
    wednesday = zoom.links.find("zoom", MEETING, START + timedelta(days=2, minutes=1))
    assert wednesday is not None and wednesday.appointment.appointment_id == "wednesday"
    assert zoom.links.find("zoom", MEETING, START + timedelta(days=1)) is None


def test_the_customer_joining_then_the_meeting_ending_is_attendance_for_the_booking(zoom: Zoom) -> None:
    appt = _appt()
    zoom.crm.upsert_contact(appt.contact)
    zoom.linker.link(appt, MEETING)
    assert zoom.deliver(_host(START)).events == []
    joined = zoom.deliver(_participant("meeting.participant_joined", "P-GUEST", GUEST.upper(), START +
                                       timedelta(minutes=2)))
    assert joined.events == []  # a join alone does not wake the case mid-meeting ...
    [row] = zoom.calendar.attendance("booking-1")  # ... it is kept as durable evidence on the booking
    assert (row["kind"], row["joined"], row["participant"], row["source"]) == ("meeting_join", 1, "guest", "zoom")
    # the customer drops out and comes back (Zoom leaves the email out of later events)
    zoom.deliver(_participant("meeting.participant_left", "P-GUEST", "", START + timedelta(minutes=2),
                              START + timedelta(minutes=10)))
    zoom.deliver(_participant("meeting.participant_joined", "P-GUEST", "", START + timedelta(minutes=12)))
    ended = zoom.deliver(_ended(START + timedelta(minutes=30)))
    [event] = ended.events
    assert event.type == EventType.attendance_signal
    assert (event.appointment.source, event.appointment.appointment_id) == ("calcom", "booking-1")
    assert event.appointment.contact == appt.contact  # the contact the case knows, not a Zoom placeholder
    signal = event.signal
    assert signal is not None and signal.kind == SignalKind.meeting_join and signal.source == "zoom"
    assert (signal.joined, signal.participant, signal.minutes) == (True, "guest", 26.0)
    # Zoom's retry of the same end is the same event (the case ignores a seen event id)
    assert zoom.deliver(_ended(START + timedelta(minutes=30))).events[0].event_id == event.event_id


def test_the_meeting_ending_without_the_customer_is_a_no_show_signal(zoom: Zoom) -> None:
    zoom.linker.link(_appt(), MEETING)
    zoom.deliver(_host(START))
    [event] = zoom.deliver(_ended(START + timedelta(minutes=20))).events
    assert event.signal is not None
    assert (event.signal.joined, event.signal.participant) == (False, "guest")
    assert zoom.calendar.attendance("booking-1") == []


def test_someone_we_cannot_identify_is_not_a_no_show(zoom: Zoom) -> None:
    zoom.linker.link(_appt(), MEETING)
    zoom.deliver(_host(START))
    zoom.deliver(_participant("meeting.participant_joined", "P-X", "", START + timedelta(minutes=1)))
    [event] = zoom.deliver(_ended(START + timedelta(minutes=21))).events
    assert event.signal is not None
    assert (event.signal.joined, event.signal.participant, event.signal.minutes) == (True, "any", 20.0)


def test_an_end_before_the_booking_or_with_nobody_seen_says_nothing(zoom: Zoom) -> None:
    zoom.linker.link(_appt(), MEETING)
    assert zoom.deliver(_ended(START - timedelta(minutes=30))).events == []  # a host alone, earlier
    assert zoom.deliver(_ended(START + timedelta(minutes=30))).events == []  # no join event reached us


def test_unlinked_meetings_keep_the_connectors_own_events(zoom: Zoom) -> None:
    result = zoom.deliver(_participant("meeting.participant_joined", "P-GUEST", GUEST, START))
    [event] = result.events
    assert event.appointment.source == "zoom" and event.appointment.appointment_id == MEETING


def test_no_email_or_name_is_stored(zoom: Zoom, tmp_path: Path) -> None:
    zoom.linker.link(_appt(), MEETING)
    zoom.deliver(_participant("meeting.participant_joined", "P-GUEST", GUEST, START))
    zoom.deliver(_participant("meeting.participant_joined", "", "", START, user_id=""))  # only a name
    dump = "\n".join(sqlite3.connect(tmp_path / "local.db").iterdump())
    for pii in (GUEST, "Pat Guest", "+15551234567", "Someone"):
        assert pii not in dump


def _documented_left(pid: str, left: datetime) -> RawRequest:
    """`meeting.participant_left` as Zoom documents it: `leave_time` and `leave_reason`, no `join_time`
    (https://developers.zoom.us/docs/api/meetings/events/#tag/meeting/POST/meeting.participant_left)."""
    part = {"user_id": "1677", "user_name": "Someone", "id": "", "participant_uuid": pid,
            "leave_time": left.isoformat(), "leave_reason": "left the meeting. Reason : left the meeting",
            "email": "", "registrant_id": ""}
    return _zoom("meeting.participant_left", _meeting(participant=part), left)


def test_a_leave_without_join_time_closes_the_open_stay(zoom: Zoom) -> None:
    zoom.linker.link(_appt(), MEETING)
    zoom.deliver(_host(START))
    zoom.deliver(_participant("meeting.participant_joined", "P-GUEST", GUEST, START + timedelta(minutes=1)))
    zoom.deliver(_documented_left("P-GUEST", START + timedelta(minutes=2)))  # dropped after one minute
    [event] = zoom.deliver(_ended(START + timedelta(minutes=30))).events
    assert event.signal is not None
    assert (event.signal.joined, event.signal.participant, event.signal.minutes) == (True, "guest", 1.0)


def test_a_leave_without_join_time_and_no_open_stay_counts_no_minutes(zoom: Zoom) -> None:
    zoom.linker.link(_appt(), MEETING)
    zoom.deliver(_participant("meeting.participant_joined", "P-GUEST", GUEST, START + timedelta(minutes=1)))
    zoom.deliver(_documented_left("P-GUEST", START + timedelta(minutes=2)))
    zoom.deliver(_documented_left("P-GUEST", START + timedelta(minutes=3)))  # Zoom's retry of a later leave
    [event] = zoom.deliver(_ended(START + timedelta(minutes=30))).events
    assert event.signal is not None and event.signal.minutes == 1.0
