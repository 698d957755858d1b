"""contract.CalendarConnector over Cal.com: availability from v2 slots, bookings made with v2 create-booking,
cancellation, and the no-show mark (mark-absent) written back to the booking. API reference:
https://cal.com/docs/api-reference/v2/introduction.

`calendar_id` is the event type id. Cal.com has no holds: they are local bookkeeping (connectors/local_holds.py),
and booking re-checks the live slots first. Cal.com refuses a time that is no longer free with a 400/409; both
become SlotUnavailable so the engine re-offers. Cal.com has no idempotency key either: every booking carries our
key (hashed) in its metadata, and a retry that finds its slot gone looks for its own earlier booking first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.calcom.client import CalcomClient
from connectors.contract import BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.inbound import digest
from connectors.local_holds import LocalHolds
from connectors.writeback import busy_from_free, pick_calendar
from domain.models import Contact, Slot

NOT_FOUND = {"404", "NotFoundException"}


def is_event_type_id(calendar_id: str) -> bool:
    return calendar_id.isdigit()


class CalcomCalendar:
    """`contact_lookup(contact_id)` supplies the attendee (Cal.com needs a name and an email; the contract passes
    an opaque id). `default_event_type` (NOSHOW_CALCOM_EVENT_TYPE_ID) is used for appointments whose calendar id is
    not a Cal.com event type (they came from another source)."""

    name = "calcom"

    def __init__(self, client: CalcomClient, contact_lookup: Callable[[str], Contact | None],
                 default_event_type: str | None = None, slot_minutes: int = 30, time_zone: str = "UTC",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 booking_fields: dict[str, Any] | None = None) -> None:
        self.booking_fields = dict(booking_fields or {})  # answers to required booking questions, by slug
        self.client = client
        self.contact_lookup = contact_lookup
        self.default_event_type = default_event_type
        self.slot_minutes = slot_minutes
        self.time_zone = time_zone
        self.clock = clock
        self.holds = LocalHolds()
        self._booked: dict[str, str] = {}  # idempotency key -> uid, for retries inside this process

    def event_type(self, calendar_id: str) -> str:
        return pick_calendar(self.name, calendar_id, is_event_type_id, self.default_event_type,
                             "NOSHOW_CALCOM_EVENT_TYPE_ID")

    def _free(self, event_type: str, start: datetime, end: datetime) -> list[Slot]:
        return self.client.slots(event_type, start.astimezone(UTC).date(), end.astimezone(UTC).date(),
                                 self.time_zone, self.slot_minutes)

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        free = self._free(self.event_type(calendar_id), start, end)
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def _own_booking(self, idempotency_key: str) -> str | None:
        """Our earlier attempt at this booking, found by the key in its metadata (recent changes only)."""
        marker = digest(idempotency_key)
        for booking in self.client.list_bookings(updated_after=self.clock() - timedelta(days=1)):
            metadata = booking.get("metadata")
            mine = isinstance(metadata, dict) and metadata.get("noshow_key") == marker
            if mine and str(booking.get("status", "")).lower() != "cancelled":
                return str(booking["uid"])
        return None

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        if idempotency_key in self._booked:
            return self._booked[idempotency_key]
        event_type = self.event_type(slot.calendar_id)
        free = {s.start for s in self._free(event_type, slot.start, slot.end)}
        if slot.start not in free:
            uid = self._own_booking(idempotency_key)
            if uid is None:
                raise SlotUnavailable("calcom: the time is no longer offered")
        else:
            contact = self.contact_lookup(contact_id)
            if contact is None or not contact.email:
                raise PermanentProviderError("calcom: a booking needs the attendee's email", code="no_contact")
            # Cal.com requires a name; a later event may have carried only the email
            attendee = contact if contact.name else contact.model_copy(update={"name": "Guest"})
            try:
                uid = self.client.create_booking(event_type, slot.start, attendee, metadata={
                    "noshow_case": case_id, "noshow_key": digest(idempotency_key)},
                    booking_fields=self.booking_fields)
            except SlotUnavailable:
                found = self._own_booking(idempotency_key)  # a retry whose first attempt did go through
                if found is None:
                    raise
                uid = found
        self._booked[idempotency_key] = uid
        self.holds.release(case_id)
        return uid

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        try:
            booking = self.client.get_booking(appointment_id)
        except PermanentProviderError as exc:
            if exc.code in NOT_FOUND:
                return
            raise
        if str(booking.get("status", "")).lower() in ("cancelled", "rejected"):
            return
        self.client.cancel(appointment_id, reason)

    def mark_no_show(self, appointment_id: str, contact: Contact | None) -> bool:
        """mark-absent for the guest (needs the booking owner's credential; triggers BOOKING_NO_SHOW_UPDATED)."""
        if contact is None or not contact.email:
            return False
        try:
            self.client.mark_absent(appointment_id, {contact.email: True})
        except PermanentProviderError as exc:
            if exc.code in NOT_FOUND:
                return False
            raise
        return True

