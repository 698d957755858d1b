"""contract.CalendarConnector over a GoHighLevel calendar: availability from its free slots, bookings with
create-appointment, cancellation and the no-show mark through the appointment's status (connectors/gohighlevel/
client.py cites the API).

`calendar_id` is the GoHighLevel calendar id (an appointment from GoHighLevel carries it; others are rebooked on
NOSHOW_GOHIGHLEVEL_CALENDAR_ID). The customer must be a GoHighLevel contact (`gohighlevel:<contactId>`): a contact
from another source is refused (`no_contact`), since creating contacts is not built. GoHighLevel has no holds
(kept locally, connectors/local_holds.py) and no idempotency key: the title carries `(ref nsk...)`, and a retry
whose time is gone, or whose create got no answer, looks for its own appointment among the contact's first.
UNVERIFIED: the status and body GoHighLevel answers for a time that is no longer free (any 400 / 409 / 422 on
create is read as "taken" once the slots no longer offer the time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.contract import BusyInterval, PermanentProviderError
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.local.remote_creates import marker
from connectors.local_holds import LocalHolds
from connectors.writeback import busy_from_free, create_once, own_or_unavailable, pick_calendar
from domain.models import Slot

SOURCE = "gohighlevel"
TAKEN = {"400", "409", "422", "Unprocessable Entity", "Conflict"}


def ghl_contact(contact_id: str) -> str | None:
    own = contact_id.removeprefix(f"{SOURCE}:") if contact_id.startswith(f"{SOURCE}:") else ""
    return own if own and own.isalnum() else None


class GoHighLevelCalendar:
    name = SOURCE

    def __init__(self, client: GoHighLevelClient, default_calendar: str | None = None, slot_minutes: int = 30,
                 time_zone: str = "UTC", clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.default_calendar, self.slot_minutes = client, default_calendar, slot_minutes
        self.time_zone, self.clock = time_zone, clock
        self.holds = LocalHolds()

    def calendar(self, calendar_id: str) -> str:
        return pick_calendar(self.name, calendar_id, lambda c: c.isalnum() and len(c) >= 10, self.default_calendar,
                             "NOSHOW_GOHIGHLEVEL_CALENDAR_ID")

    def _free(self, calendar: str, start: datetime, end: datetime) -> list[Slot]:
        return self.client.free_slots(calendar, start, end, self.time_zone, self.slot_minutes)

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        free = self._free(self.calendar(calendar_id), start, end)
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def _own(self, contact: str, idempotency_key: str) -> str | None:
        tag = marker(idempotency_key)
        for event in self.client.contact_appointments(contact):
            status = str(event.get("appointmentStatus") or event.get("appoinmentStatus") or "").lower()
            if tag in str(event.get("title") or "") and status != "cancelled" and event.get("id"):
                return str(event["id"])
        return None

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        contact = ghl_contact(contact_id)
        if contact is None:
            raise PermanentProviderError("gohighlevel: the customer is not a GoHighLevel contact", code="no_contact")
        calendar = self.calendar(slot.calendar_id)

        def own() -> str | None:
            return self._own(contact, idempotency_key)

        if slot.start not in {s.start for s in self._free(calendar, slot.start, slot.end)}:
            return own_or_unavailable(own, "gohighlevel: the time is no longer offered")
        title = f"{appointment_type[:80]} (ref {marker(idempotency_key)})"

        def create() -> str:
            made = self.client.create_appointment({
                "calendarId": calendar, "contactId": contact, "startTime": slot.start.astimezone(UTC).isoformat(),
                "endTime": slot.end.astimezone(UTC).isoformat(), "title": title, "appointmentStatus": "confirmed",
                **({"assignedUserId": slot.owner_id} if slot.owner_id else {})})
            if not made.get("id"):
                raise PermanentProviderError("gohighlevel: the booking answered no id", code="no_id")
            return str(made["id"])

        made = create_once(create, own, lambda exc: exc.code in TAKEN, "gohighlevel")
        self.holds.release(case_id)
        return made

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def set_status(self, appointment_id: str, status: str) -> None:
        """`appointmentStatus`: confirmed, cancelled, showed, noshow, invalid (idempotent)."""
        self.client.update_appointment(appointment_id, {"appointmentStatus": status})

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        try:
            self.set_status(appointment_id, "cancelled")
        except PermanentProviderError as exc:
            if exc.code != "404":
                raise

    def mark_no_show(self, appointment_id: str, contact: object) -> bool:
        try:
            self.set_status(appointment_id, "noshow")
        except PermanentProviderError as exc:
            if exc.code == "404":
                return False
            raise
        return True
