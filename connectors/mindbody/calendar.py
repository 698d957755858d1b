"""contract.CalendarConnector over Mindbody appointments: availability from the bookable items of a session type
at a location, bookings with add-appointment, and cancellation (connectors/mindbody/client.py cites the API).

`calendar_id` is `<sessionTypeId>@<locationId>` (a Mindbody appointment carries it; appointments from other
sources are rebooked on NOSHOW_MINDBODY_CALENDAR). A bookable item is a window of one staff member in which an
appointment may start anywhere from `StartDateTime` to `BookableEndDateTime`: it is free time up to that last
start plus `slot_minutes`, and a time is booked with the staff member whose window lets it start. The customer
must be a Mindbody client (`mindbody:<clientId>`): a contact from another source is refused (`no_contact`), since
creating clients is not built. Mindbody has no holds (kept locally, connectors/local_holds.py) and no idempotency
key: the notes carry `(ref nsk...)`, and a retry whose time is gone, or whose create got no answer, looks for its
own booking among the client's appointments that day first. The no-show mark is Mindbody's own (staff set it in
Mindbody), so this calendar does not write it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.contract import AmbiguousSendError, BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.inbound import dict_at
from connectors.local.remote_creates import marker
from connectors.local_holds import LocalHolds
from connectors.mindbody.client import MindbodyClient
from connectors.mindbody.inbound import SOURCE, norm
from connectors.writeback import busy_from_free, pick_calendar
from domain.models import Slot

NOT_FOUND = {"404", "InvalidAppointment", "AppointmentNotFound"}


def parse_calendar(calendar_id: str) -> tuple[str, str] | None:
    session, _, location = calendar_id.partition("@")
    return (session, location) if session.isdigit() and location.isdigit() else None


def mindbody_client_id(contact_id: str) -> str | None:
    own = contact_id.removeprefix(f"{SOURCE}:") if contact_id.startswith(f"{SOURCE}:") else ""
    return own or None


class MindbodyCalendar:
    name = SOURCE

    def __init__(self, client: MindbodyClient, default_calendar: str | None = None, slot_minutes: int = 60,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.default_calendar = client, default_calendar
        self.slot_minutes, self.clock = slot_minutes, clock
        self.holds = LocalHolds()

    def calendar(self, calendar_id: str) -> tuple[str, str]:
        chosen = pick_calendar(self.name, calendar_id, lambda c: parse_calendar(c) is not None, self.default_calendar,
                               "NOSHOW_MINDBODY_CALENDAR")
        parsed = parse_calendar(chosen)
        if parsed is None:
            raise PermanentProviderError("mindbody: NOSHOW_MINDBODY_CALENDAR must be <sessionTypeId>@<locationId>",
                                         code="no_calendar")
        return parsed

    def _windows(self, calendar_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        """(first start, last start, staff id) of each bookable item: an appointment may start anywhere in it."""
        session, location = self.calendar(calendar_id)
        step = timedelta(minutes=self.slot_minutes)
        windows: list[tuple[datetime, datetime, str]] = []
        for item in self.client.bookable_items(session, start, end, location_id=location):
            first = self.client.parse(item.get("StartDateTime"))
            window_end = self.client.parse(item.get("EndDateTime"))
            last = self.client.parse(item.get("BookableEndDateTime")) or (window_end - step if window_end else None)
            staff = dict_at(item, "Staff").get("Id")
            if first is not None and last is not None and last >= first and staff is not None:
                windows.append((first, last, str(staff)))
        return sorted(windows)

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        step = timedelta(minutes=self.slot_minutes)
        free = [Slot(start=first, end=last + step, calendar_id=calendar_id, owner_id=staff)
                for first, last, staff in self._windows(calendar_id, start, end)]
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def _staff_for(self, slot: Slot) -> str | None:
        """The staff member whose bookable item lets the slot start (the slot's own owner first)."""
        fits = [staff for first, last, staff in self._windows(slot.calendar_id, slot.start, slot.end)
                if first <= slot.start <= last]
        return slot.owner_id if slot.owner_id in fits else (fits[0] if fits else None)

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def _own(self, client_id: str, slot: Slot, idempotency_key: str) -> str | None:
        tag = marker(idempotency_key)
        day = slot.start.astimezone(UTC)
        for row in self.client.staff_appointments(day - timedelta(hours=12), day + timedelta(hours=12), [client_id]):
            if tag in str(row.get("Notes") or "") and norm(row.get("Status")) not in ("cancelled", "latecancelled"):
                return str(row["Id"])
        return None

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        client_id = mindbody_client_id(contact_id)
        if client_id is None:
            raise PermanentProviderError("mindbody: the customer is not a Mindbody client", code="no_contact")
        session, location = self.calendar(slot.calendar_id)
        staff = self._staff_for(slot)
        if staff is None:
            found = self._own(client_id, slot, idempotency_key)
            if found is None:
                raise SlotUnavailable("mindbody: the time is no longer bookable")
            return found
        body: dict[str, Any] = {
            "ClientId": client_id, "LocationId": int(location), "SessionTypeId": int(session),
            "StaffId": int(staff), "StartDateTime": self.client.local(slot.start),
            "EndDateTime": self.client.local(slot.end), "Notes": f"rebooked (ref {marker(idempotency_key)})"}
        try:
            made = self.client.add_appointment(body)
        except AmbiguousSendError:
            found = self._own(client_id, slot, idempotency_key)
            if found is None:
                raise
            return found
        except PermanentProviderError as exc:
            found = self._own(client_id, slot, idempotency_key)
            if found is not None:
                return found
            if self._staff_for(slot) is None:
                raise SlotUnavailable("mindbody: the time was taken") from exc
            raise
        self.holds.release(case_id)
        return str(made["Id"])

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        if not appointment_id.isdigit():
            return  # a class visit or another source's id: nothing of ours to cancel
        try:
            self.client.update_appointment({"AppointmentId": int(appointment_id), "Execute": "Cancel",
                                            "SendEmail": False})
        except PermanentProviderError as exc:
            if exc.code not in NOT_FOUND:
                raise
