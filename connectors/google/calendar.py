"""contract.CalendarConnector over Google Calendar: availability from `freeBusy`
(https://developers.google.com/calendar/api/v3/reference/freebusy/query), bookings with `events.insert`,
cancellation with `events.patch` (status cancelled), each with `sendUpdates`.

`calendar_id` is the Google calendar id. Holds are local bookkeeping. Google never refuses an overlapping insert,
so booking checks freeBusy first and refuses a busy slot (SlotUnavailable: the engine re-offers); the event id is
derived from the idempotency key, so a retried insert is a 409 on our own event, never a second event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.contract import BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.google.client import BOOKING_PROPERTY, GoogleCalendarClient, event_id_for
from connectors.local_holds import LocalHolds
from connectors.writeback import pick_calendar
from domain.models import Contact, Slot

GONE = {"404", "410", "notFound", "deleted"}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def is_calendar_id(calendar_id: str) -> bool:
    """Google calendar ids are addresses (a person's or `...@group.calendar.google.com`) or `primary`."""
    return calendar_id == "primary" or "@" in calendar_id


class GoogleCalendar:
    """`default_calendar` (NOSHOW_GOOGLE_CALENDAR_ID) serves appointments from other sources."""

    name = "google"

    def __init__(self, client: GoogleCalendarClient, contact_lookup: Callable[[str], Contact | None],
                 default_calendar: str | None = None, send_updates: str = "all",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.contact_lookup = contact_lookup
        self.default_calendar = default_calendar
        self.send_updates = send_updates
        self.clock = clock
        self.holds = LocalHolds()

    def calendar(self, calendar_id: str) -> str:
        return pick_calendar(self.name, calendar_id, is_calendar_id, self.default_calendar,
                             "NOSHOW_GOOGLE_CALENDAR_ID")

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        cal = self.calendar(calendar_id)
        return self.client.free_busy([cal], start, end)[cal] + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        cal = self.calendar(slot.calendar_id)
        event_id = event_id_for(idempotency_key)
        busy = self.client.free_busy([cal], slot.start, slot.end)[cal]
        if any(b.start < slot.end and slot.start < b.end for b in busy):
            try:  # the busy time may be our own earlier attempt
                existing = self.client.get_event(cal, event_id)
            except PermanentProviderError:
                existing = {}
            if existing.get("id") == event_id and existing.get("status") != "cancelled":
                self.holds.release(case_id)
                return event_id
            raise SlotUnavailable("google: the slot is busy")
        contact = self.contact_lookup(contact_id)
        body: dict[str, Any] = {
            "id": event_id, "summary": appointment_type,
            "start": {"dateTime": _iso(slot.start)}, "end": {"dateTime": _iso(slot.end)},
            "extendedProperties": {"private": {BOOKING_PROPERTY: idempotency_key[:200], "noshow_case": case_id,
                                               "appointment_type": appointment_type}},
        }
        if contact is not None and contact.email:
            body["attendees"] = [{"email": contact.email, **({"displayName": contact.name} if contact.name else {})}]
        try:
            created = self.client.insert_event(cal, body, self.send_updates)
        except PermanentProviderError as exc:
            if exc.code in ("409", "duplicate"):
                self.holds.release(case_id)
                return event_id  # a retry of our own insert
            raise
        self.holds.release(case_id)
        return str(created.get("id") or event_id)

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        try:
            self.client.patch_event(self.calendar(calendar_id), appointment_id, {"status": "cancelled"},
                                    self.send_updates)
        except PermanentProviderError as exc:
            if exc.code not in GONE:
                raise
