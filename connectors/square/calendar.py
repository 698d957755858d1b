"""contract.CalendarConnector over Square Appointments: availability from SearchAvailability, bookings with
CreateBooking (its `idempotency_key` makes a retry book once), cancellation with CancelBooking at the booking's
current `version` (connectors/square/client.py cites the API).

`calendar_id` is `<location_id>:<service_variation_id>` (a booking from Square carries it; others are rebooked on
NOSHOW_SQUARE_LOCATION_ID + NOSHOW_SQUARE_SERVICE_VARIATION_ID); a slot's `owner_id` is the team member Square
offered it with. Square has no holds: they are local (connectors/local_holds.py), and booking re-checks the time
with SearchAvailability first (which also gives the service variation's current version CreateBooking needs), so a
time taken meanwhile is never double-booked. The customer is a Square customer: `square:<customer_id>`, else found
by exact email or phone (creating customers is not built: `no_contact`). The no-show mark is not written: whether
the API may set NO_SHOW is UNVERIFIED (UpdateBooking's allowed status changes are not documented). UNVERIFIED: the
status and code for a time no longer free (a 400 / 409 on create is read as "taken" once the time is no longer
offered).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.contract import BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.inbound import dicts_in, number_in, opt_dt
from connectors.local_holds import LocalHolds
from connectors.square.client import SquareClient, square_time
from connectors.writeback import busy_from_free, pick_calendar
from domain.models import Contact, Slot

SOURCE = "square"
TAKEN = {"400", "409", "CONFLICT", "BAD_REQUEST", "INVALID_VALUE"}
GONE = {"404", "NOT_FOUND"}
CANCELLED = {"CANCELLED_BY_CUSTOMER", "CANCELLED_BY_SELLER", "DECLINED"}
# SearchAvailability's range: at least 24 hours, at most 32 days (SDK square/types/search_availability_filter.py)
MIN_RANGE, MAX_RANGE = timedelta(hours=24), timedelta(days=31)


def split_calendar_key(key: str) -> tuple[str, str] | None:
    location, _, service = key.partition(":")
    ok = location and service and all(c.isalnum() or c in "_-" for c in location + service)
    return (location, service) if ok else None


class SquareCalendar:
    name = SOURCE

    def __init__(self, client: SquareClient, contact_lookup: Callable[[str], Contact | None],
                 default_calendar: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.contact_lookup, self.default_calendar, self.clock = (client, contact_lookup,
                                                                               default_calendar, clock)
        self.holds = LocalHolds()

    def calendar(self, calendar_id: str) -> tuple[str, str]:
        key = pick_calendar(self.name, calendar_id, lambda c: split_calendar_key(c) is not None,
                            self.default_calendar, "NOSHOW_SQUARE_LOCATION_ID + NOSHOW_SQUARE_SERVICE_VARIATION_ID")
        found = split_calendar_key(key)
        if found is None:
            raise PermanentProviderError("square: the default calendar is not <location>:<service variation>",
                                         code="no_calendar")
        return found

    def _availabilities(self, calendar_id: str, start: datetime, end: datetime) -> list[tuple[Slot, dict[str, Any]]]:
        location, service = self.calendar(calendar_id)
        out: list[tuple[Slot, dict[str, Any]]] = []
        begin = start
        while True:
            finish = min(max(end, begin + MIN_RANGE), begin + MAX_RANGE)
            for a in self.client.availability(begin, finish, location, service):
                at = opt_dt(a.get("start_at"))
                segments = dicts_in(a.get("appointment_segments"))
                if at is None or not segments:
                    continue
                minutes = sum(number_in(s.get("duration_minutes"), 0, 24 * 60) or 0 for s in segments) or 30
                slot = Slot(start=at, end=at + timedelta(minutes=minutes), calendar_id=f"{location}:{service}",
                            owner_id=str(segments[0].get("team_member_id") or "") or None)
                out.append((slot, a))
            if finish >= end:
                return out
            begin = finish

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        free = [slot for slot, _ in self._availabilities(calendar_id, start, end)]
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def _offer(self, slot: Slot) -> dict[str, Any] | None:
        """Square's current offer of this time: with the slot's team member when Square offers them, else with
        whoever it offers (busy() counts a time free when anyone is)."""
        offers = [(o, raw) for o, raw in self._availabilities(slot.calendar_id, slot.start, slot.end)
                  if o.start == slot.start]
        same = [raw for o, raw in offers if slot.owner_id is not None and o.owner_id == slot.owner_id]
        found = same or [raw for _, raw in offers]
        return found[0] if found else None

    def customer(self, contact_id: str) -> str:
        if contact_id.startswith(f"{SOURCE}:") and contact_id != f"{SOURCE}:":
            return contact_id.removeprefix(f"{SOURCE}:")
        contact = self.contact_lookup(contact_id)
        found = self.client.find_customer(contact.email, contact.phone) if contact is not None else None
        if found is None:
            raise PermanentProviderError("square: the customer is not a Square customer", code="no_contact")
        return found

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        customer = self.customer(contact_id)
        location, _ = self.calendar(slot.calendar_id)
        offer = self._offer(slot)
        if offer is None:
            raise SlotUnavailable("square: the time is no longer offered")
        segments = [{k: s[k] for k in ("team_member_id", "service_variation_id", "service_variation_version",
                                       "duration_minutes") if k in s}
                    for s in dicts_in(offer.get("appointment_segments"))]
        booking = {"location_id": location, "start_at": square_time(slot.start), "customer_id": customer,
                   "appointment_segments": segments}
        try:
            made = self.client.create_booking(booking, idempotency_key)
        except PermanentProviderError as exc:
            if exc.code in TAKEN and self._offer(slot) is None:
                raise SlotUnavailable("square: the time was refused") from exc
            raise
        self.holds.release(case_id)
        return str(made["id"])

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        try:
            booking = self.client.booking(appointment_id)
            if not booking or str(booking.get("status")) in CANCELLED:
                return
            version = booking.get("version")
            self.client.cancel_booking(appointment_id, int(version) if isinstance(version, int) else 0,
                                       f"cancel-{appointment_id}-{version}")
        except PermanentProviderError as exc:
            if exc.code not in GONE:
                raise
