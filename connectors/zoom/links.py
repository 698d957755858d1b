"""Zoom meetings tied to bookings, and Zoom webhooks turned into attendance evidence for the right case.

Linking: a booking's source event (a Cal.com / Calendly / Standard Webhooks body, a Google or Outlook event found
by reconciliation) carries the Zoom join URL, e.g. `https://us02web.zoom.us/j/85012345678?pwd=...`.
`zoom_meeting_ids` finds the meeting ids in it; `ZoomLinker` records meeting id -> booking in the local link table
when a source event names exactly one booking and exactly one Zoom meeting (anything ambiguous links nothing).

Attendance: `ZoomAttendance.resolve` rewrites what `ZoomInbound` parsed. For a linked meeting:
- a participant joining or leaving is recorded (who: the customer when the participant's email hashes to the
  booking's customer email, the host by Zoom's host id, anyone else as "other"); a customer join is also kept as
  durable evidence on the appointment (a bare join blocks an automated no-show if nothing else arrives). Nothing
  is sent to the case yet: a join alone would wake it mid-meeting with evidence that only says "review";
- `meeting.ended` becomes one attendance signal for the booking's case: the customer's total minutes in the
  meeting (attended once the policy's `min_join_minutes` is reached), or "the guest never joined" when the host
  was there and the customer was not (a no-show signal), or an unattributed join when only people we cannot
  identify joined (review). An end before the booking began, or with no participant seen at all, says nothing.
Unlinked meetings keep the connector's own events (source `zoom`, which the policy does not approve: counted as
ignored). No email, name or phone is logged or stored; emails are compared as keyed hashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import digest
from connectors.local.calendar import LocalCalendar
from connectors.local.meeting_links import MeetingLink, MeetingLinks, Role
from connectors.signatures import constant_time_equals
from connectors.zoom.inbound import ZoomFact, ZoomInbound
from domain.ids import address_key_for
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

PROVIDER = "zoom"
# join links on zoom.us / zoomgov.com, vanity subdomains included; JSON may escape the slashes ("\/j\/")
_JOIN_URL = re.compile(r"(?i)\bzoom(?:gov)?\.(?:us|com)(?:\\?/)+(?:j|w|s|wc(?:\\?/join)?)(?:\\?/)+(\d{9,11})(?!\d)")
_CONFNO = re.compile(r"(?i)\bzoommtg:(?:\\?/){2}[^\s\"']*?[?&]confno=(\d{9,11})(?!\d)")
_SCAN_LIMIT = 1_000_000


def zoom_meeting_ids(text: str | bytes) -> set[str]:
    """The Zoom meeting ids of the join links in `text` (a raw webhook body or a serialized calendar event)."""
    text = text[:_SCAN_LIMIT].decode("utf-8", errors="ignore") if isinstance(text, bytes) else text[:_SCAN_LIMIT]
    return {m.group(1) for m in _JOIN_URL.finditer(text)} | {m.group(1) for m in _CONFNO.finditer(text)}


class ZoomLinker:
    """Records which booking a Zoom meeting belongs to. `salt` = the deployment's id salt (keys the email hash)."""

    def __init__(self, links: MeetingLinks, salt: str = "noshow") -> None:
        self.links, self.salt = links, salt

    def link(self, appointment: Appointment, meeting_id: str) -> None:
        email = appointment.contact.email
        self.links.link(PROVIDER, meeting_id, appointment, address_key_for(email, self.salt) if email else None)

    def observe(self, result: WebhookResult, body: bytes) -> str | None:
        """Link the booking a webhook announced to the Zoom meeting in its body; the meeting id, or None when the
        body names no single booking and single meeting. A moved booking's links follow its new times."""
        bookings: dict[tuple[str, str], Appointment] = {}
        for event in result.events:
            appt = event.appointment
            if event.type == EventType.rescheduled and event.new_start and event.new_end:
                self.links.move(appt.source, appt.appointment_id, event.new_start, event.new_end)
                appt = appt.model_copy(update={"start": event.new_start, "end": event.new_end})
            elif event.type != EventType.booked:
                continue
            bookings[(appt.source, appt.appointment_id)] = appt
        if len(bookings) != 1:
            return None
        ids = zoom_meeting_ids(body)
        if len(ids) != 1:
            return None
        (meeting_id,) = ids
        self.link(next(iter(bookings.values())), meeting_id)
        return meeting_id


class ZoomAttendance:
    """`contact_lookup` returns the stored contact for a contact id (the local CRM), so an event for the booking
    carries the same contact the case started with; `calendar` keeps a customer's join as durable evidence."""

    def __init__(self, links: MeetingLinks, salt: str = "noshow", calendar: LocalCalendar | None = None,
                 contact_lookup: Callable[[str], Contact | None] | None = None) -> None:
        self.links, self.salt, self.calendar = links, salt, calendar
        self.contact_lookup = contact_lookup

    def resolve(self, inbound: ZoomInbound, request: RawRequest, result: WebhookResult) -> WebhookResult:
        fact = inbound.fact(request, self.salt)
        if fact is None:
            return result
        link = self.links.find(PROVIDER, fact.meeting_id, fact.at)
        if link is None:
            return result  # not one of our bookings' meetings: the connector's own (ignored) events stand
        out = WebhookResult(dedupe_key=result.dedupe_key)
        if fact.kind == "ended":
            event = self._ended(fact, link)
            if event is not None:
                out.events.append(event)
            return out
        self._participant(fact, link)
        return out

    # ------------------------------------------------------------------ internals
    def _role(self, fact: ZoomFact, link: MeetingLink) -> Role:
        if fact.is_host:
            return "host"
        if fact.email_key and link.guest_key and constant_time_equals(link.guest_key, fact.email_key):
            return "guest"
        known = self.links.role_of(PROVIDER, fact.meeting_id, fact.session, fact.participant or "")
        return known or "other"

    def _participant(self, fact: ZoomFact, link: MeetingLink) -> None:
        participant = fact.participant or ""
        role = self._role(fact, link)
        joined_at = fact.joined_at or fact.at
        if fact.kind == "joined":
            self.links.joined(PROVIDER, fact.meeting_id, fact.session, participant, role, joined_at)
            if role == "guest" and self.calendar is not None:
                self.calendar.add_signal(link.appointment.appointment_id, SignalKind.meeting_join.value, joined_at,
                                         source=PROVIDER, joined=True, participant="guest")
        else:
            # a leave names its join time only sometimes (Zoom's documented participant_left has none)
            self.links.left(PROVIDER, fact.meeting_id, fact.session, participant, role, fact.joined_at,
                            fact.left_at or fact.at)

    def _appointment(self, link: MeetingLink) -> Appointment:
        appt = link.appointment
        stored = self.contact_lookup(appt.contact.contact_id) if self.contact_lookup else None
        return appt.model_copy(update={"contact": stored}) if stored is not None else appt

    def _ended(self, fact: ZoomFact, link: MeetingLink) -> AppointmentEvent | None:
        appt = link.appointment
        if fact.at < appt.start:
            return None  # ended before the booking began (a host alone early): says nothing about the customer
        seen = self.links.attendance(PROVIDER, fact.meeting_id, fact.session, fact.at)
        if seen.guest_minutes is not None:
            signal = AttendanceSignal(kind=SignalKind.meeting_join, at=fact.at, source=PROVIDER, joined=True,
                                      minutes=seen.guest_minutes, participant="guest")
            note = "the customer was in the Zoom meeting"
        elif seen.other_minutes is not None:
            signal = AttendanceSignal(kind=SignalKind.meeting_join, at=fact.at, source=PROVIDER, joined=True,
                                      minutes=seen.other_minutes, participant="any")
            note = "someone we could not identify joined the Zoom meeting"
        elif seen.host_joined:
            signal = AttendanceSignal(kind=SignalKind.meeting_join, at=fact.at, source=PROVIDER, joined=False,
                                      participant="guest")
            note = "the Zoom meeting ended without the customer joining"
        else:
            return None  # no participant event reached us: no evidence either way
        event_id = f"zoom-{digest(fact.session, appt.source, appt.appointment_id)}-ended"
        return AppointmentEvent(event_id=event_id, type=EventType.attendance_signal, occurred_at=fact.at,
                                appointment=self._appointment(link), signal=signal, note=note)
