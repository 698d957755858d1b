"""contract.CalendarConnector over Mindbody appointments: availability from the bookable items of a session type
at a location, bookings with add-appointment, and cancellation (connectors/mindbody/client.py cites the API).

`calendar_id` is `<sessionTypeId>@<locationId>` (a Mindbody appointment carries it; appointments from other
sources are rebooked on NOSHOW_MINDBODY_CALENDAR). A bookable item is a window of one staff member in which an
appointment may start (`StartDateTime` to `BookableEndDateTime`): it is offered as slots of `slot_minutes`, each
owned by that staff member, and booked with that staff id. The customer must be a Mindbody client
(`mindbody:<clientId>`): a contact from another source is refused (`no_contact`), since creating clients is not
built. Mindbody has no holds (kept locally, connectors/local_holds.py) and no idempotency key: the notes carry
`(ref nsk...)`, and a retry whose time is gone, or whose create got no answer, looks for its own booking among
the client's appointments that day first. The no-show mark is Mindbody's own (staff set it in Mindbody), so this
calendar does not write it.
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

    def _free(self, calendar_id: str, start: datetime, end: datetime) -> list[Slot]:
        session, location = self.calendar(calendar_id)
        step = timedelta(minutes=self.slot_minutes)
        slots: list[Slot] = []
        for item in self.client.bookable_items(session, start, end, location_id=location):
            first = self.client.parse(item.get("StartDateTime"))
            last = self.client.parse(item.get("BookableEndDateTime"))
            window_end = self.client.parse(item.get("EndDateTime"))
            staff = dict_at(item, "Staff")
            if first is None or staff.get("Id") is None:
                continue
            last = last or ((window_end - step) if window_end else first)
            at = first
            while at <= last:
                slots.append(Slot(start=at, end=at + step, calendar_id=calendar_id, owner_id=str(staff["Id"])))
                at += step
        return sorted(slots, key=lambda s: s.start)

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        return busy_from_free(self._free(calendar_id, start, end), start, end) + self.holds.busy(
            calendar_id, start, end, self.clock())

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
        offered = [s for s in self._free(slot.calendar_id, slot.start, slot.end) if s.start == slot.start]
        match = next((s for s in offered if s.owner_id == slot.owner_id), offered[0] if offered else None)
        if match is None:
            found = self._own(client_id, slot, idempotency_key)
            if found is None:
                raise SlotUnavailable("mindbody: the time is no longer bookable")
            return found
        body: dict[str, Any] = {
            "ClientId": client_id, "LocationId": int(location), "SessionTypeId": int(session),
            "StaffId": int(match.owner_id or 0), "StartDateTime": self.client.local(slot.start),
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
            still = any(s.start == slot.start for s in self._free(slot.calendar_id, slot.start, slot.end))
            if not still:
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
