"""contract.CalendarConnector over Acuity Scheduling: availability from `GET /availability/times`, bookings with
`POST /appointments` (as a client, so Acuity applies its own availability rules), cancellation and the no-show mark
(an admin cancellation with `noShow`) through `PUT /appointments/{id}/cancel` (connectors/acuity/client.py cites
the API).

`calendar_id` is `<appointmentTypeID>[:<calendarID>]` (an appointment from Acuity carries it; others are rebooked on
NOSHOW_ACUITY_APPOINTMENT_TYPE_ID / _CALENDAR_ID). Acuity has no holds: they are local (connectors/local_holds.py)
and booking re-checks the day's times first, so a time taken meanwhile is never double-booked. Acuity has no
idempotency key either: a retry whose time is gone, or whose create got no answer, looks for the client's own
appointment at that time and type (`GET /appointments?email=`) before anything else. UNVERIFIED: the status and
code Acuity answers for a time no longer free (any 400 / 409 / 422 on create is read as "taken" once the times
no longer offer it), and the cancel body's `noShow` field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connectors.acuity.client import AcuityClient, split_calendar_key
from connectors.contract import AmbiguousSendError, BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.inbound import opt_dt
from connectors.local_holds import LocalHolds
from connectors.writeback import busy_from_free, pick_calendar
from domain.models import Contact, Slot

SOURCE = "acuity"
TAKEN = {"400", "409", "422", "not_available", "no_available_calendar"}
GONE = {"404", "not_found"}


class AcuityCalendar:
    """`contact_lookup(contact_id)` supplies the client (Acuity books by name and email; the contract passes an
    opaque id)."""

    name = SOURCE

    def __init__(self, client: AcuityClient, contact_lookup: Callable[[str], Contact | None],
                 default_calendar: str | None = None, slot_minutes: int = 30,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.contact_lookup, self.default_calendar = client, contact_lookup, default_calendar
        self.slot_minutes, self.clock = slot_minutes, clock
        self.holds = LocalHolds()

    def calendar(self, calendar_id: str) -> tuple[str, str | None]:
        key = pick_calendar(self.name, calendar_id, lambda c: split_calendar_key(c) is not None,
                            self.default_calendar, "NOSHOW_ACUITY_APPOINTMENT_TYPE_ID")
        found = split_calendar_key(key)
        if found is None:
            raise PermanentProviderError("acuity: NOSHOW_ACUITY_APPOINTMENT_TYPE_ID is not numeric", code="no_calendar")
        return found

    def _free(self, calendar_id: str, start: datetime, end: datetime) -> list[Slot]:
        """The days Acuity says have a free time (one call a month), then each such day's times. Acuity's days are
        the calendar's own: a day either side of the UTC window covers any time zone."""
        kind, calendar = self.calendar(calendar_id)
        first = (start - timedelta(days=1)).astimezone(UTC).date()
        last = (end + timedelta(days=1)).astimezone(UTC).date()
        month, days = first.replace(day=1), []
        while month <= last:
            days += [d for d in self.client.dates(kind, month, calendar) if first <= d <= last]
            month = (month + timedelta(days=32)).replace(day=1)
        slots: list[Slot] = []
        for day in sorted(set(days)):
            slots += self.client.times(kind, day, calendar, self.slot_minutes)
        return slots

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        free = self._free(calendar_id, start, end)
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def _offered(self, slot: Slot) -> bool:
        return slot.start in {s.start for s in self._free(slot.calendar_id, slot.start, slot.start)}

    def _own(self, contact: Contact, slot: Slot) -> str | None:
        """The client's live appointment of this type at this time: an earlier attempt of this booking."""
        kind, _ = self.calendar(slot.calendar_id)
        day = slot.start.astimezone(UTC).date()
        for a in self.client.appointments(day, day, email=contact.email or ""):
            same = opt_dt(a.get("datetime")) == slot.start and str(a.get("appointmentTypeID")) == kind
            if same and a.get("canceled") is not True and a.get("id"):
                return str(a["id"])
        return None

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        contact = self.contact_lookup(contact_id)
        if contact is None or not contact.email:
            raise PermanentProviderError("acuity: a booking needs the client's email", code="no_contact")
        kind, calendar = self.calendar(slot.calendar_id)
        if not self._offered(slot):
            found = self._own(contact, slot)
            if found is None:
                raise SlotUnavailable("acuity: the time is no longer offered")
            return found
        try:
            made = self.client.create(kind, slot.start, contact, calendar)
        except AmbiguousSendError:
            found = self._own(contact, slot)
            if found is None:
                raise
            return found
        except PermanentProviderError as exc:
            if exc.code in TAKEN and not self._offered(slot):
                found = self._own(contact, slot)
                if found is not None:
                    return found
                raise SlotUnavailable("acuity: the time was refused") from exc
            raise
        self.holds.release(case_id)
        return str(made["id"])

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        try:
            if self.client.appointment(appointment_id).get("canceled") is True:
                return
            self.client.cancel(appointment_id, note=reason)
        except PermanentProviderError as exc:
            if exc.code not in GONE:
                raise

    def mark_no_show(self, appointment_id: str, contact: object) -> bool:
        """An admin cancellation with `noShow` set, without Acuity's cancellation email (the body's field name is
        UNVERIFIED; Acuity documents that the flag is set this way and stays updatable once cancelled)."""
        try:
            self.client.cancel(appointment_id, no_show=True, notify=False)
        except PermanentProviderError as exc:
            if exc.code in GONE:
                return False
            raise
        return True
