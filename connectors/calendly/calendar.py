"""contract.CalendarConnector over Calendly (https://developer.calendly.com/api-docs): availability from
`/event_type_available_times`, bookings with Create Event Invitee (`POST /invitees`, body UNVERIFIED), cancellation
of the scheduled event, and the no-show mark (`POST /invitee_no_shows`) written back to the invitee.

`calendar_id` is the event type URI. Holds are local bookkeeping (Calendly has none); booking re-checks the live
available times first and a refused time is SlotUnavailable, so the engine re-offers. Calendly has no idempotency
key: a retry inside this process returns the first invitee; after a restart the re-check finds the time taken and
the engine re-offers instead of booking twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connectors.calendly.client import CalendlyClient
from connectors.contract import BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.local_holds import LocalHolds
from connectors.writeback import busy_from_free, pick_calendar
from domain.models import Contact, Slot

NOT_FOUND = {"404", "Resource Not Found"}


def is_event_type_uri(calendar_id: str) -> bool:
    return calendar_id.startswith("https://") and "/event_types/" in calendar_id


class CalendlyCalendar:
    """`default_event_type` (NOSHOW_CALENDLY_EVENT_TYPE) serves appointments from other sources."""

    name = "calendly"

    def __init__(self, client: CalendlyClient, contact_lookup: Callable[[str], Contact | None],
                 default_event_type: str | None = None, slot_minutes: int = 30,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.contact_lookup = contact_lookup
        self.default_event_type = default_event_type
        self.slot_minutes = slot_minutes
        self.clock = clock
        self.holds = LocalHolds()
        self._booked: dict[str, str] = {}

    def event_type(self, calendar_id: str) -> str:
        return pick_calendar(self.name, calendar_id, is_event_type_uri, self.default_event_type,
                             "NOSHOW_CALENDLY_EVENT_TYPE")

    def _free(self, event_type: str, start: datetime, end: datetime) -> list[Slot]:
        # the API takes future times only
        lower = max(start, self.clock() + timedelta(seconds=5))
        if lower >= end:
            return []
        return self.client.available_times(event_type, lower, end, self.slot_minutes)

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        free = self._free(self.event_type(calendar_id), start, end)
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        if idempotency_key in self._booked:
            return self._booked[idempotency_key]
        event_type = self.event_type(slot.calendar_id)
        free = {s.start for s in self._free(event_type, slot.start, slot.start + timedelta(minutes=1))}
        if slot.start not in free:
            raise SlotUnavailable("calendly: the time is no longer offered")
        contact = self.contact_lookup(contact_id)
        if contact is None or not contact.email:
            raise PermanentProviderError("calendly: a booking needs the invitee's email", code="no_contact")
        invitee = self.client.create_invitee(event_type, slot.start, contact.email, contact.name or "Guest",
                                             contact.timezone, contact.phone)
        uri = str(invitee["uri"])
        self._booked[idempotency_key] = uri
        self.holds.release(case_id)
        return uri

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        """Our appointment ids are invitee URIs; cancelling means cancelling their scheduled event."""
        event_uri = appointment_id.split("/invitees/")[0]
        try:
            self.client.cancel_event(event_uri, reason)
        except PermanentProviderError as exc:
            if exc.code not in NOT_FOUND:
                raise

    def mark_no_show(self, appointment_id: str, contact: Contact | None) -> bool:
        if "/invitees/" not in appointment_id:
            return False
        self.client.mark_no_show(appointment_id)
        return True
