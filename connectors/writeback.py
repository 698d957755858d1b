"""The engine's calendar and CRM when a provider is selected (NOSHOW_CALENDAR_PROVIDER, NOSHOW_CRM_PROVIDER).

`MirroredCalendar`: availability and bookings live at the provider; short-lived holds, a copy of the bookings the
engine made (so it can cancel its own and the attendance check can read them) and attendance signals stay in the
local database. Holds in SQLite are shared by every worker process and survive a restart; booking re-checks the
provider's live availability and a provider conflict is SlotUnavailable, so the engine re-offers.

`WritebackCrm`: contacts stay in the local store (the calendar adapters read names and emails from it); field
writes, notes and tasks go to the remote CRM when there is one (HubSpot applies the CRM write rules again, so a
protected field is never sent), and always to the local store as the audit copy (before/after per field). A
no-show outcome is also written back to the scheduler that owns the appointment (Cal.com mark-absent, Calendly
invitee no-show), best effort: the CRM write never fails because of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from connectors.contract import (
    AmbiguousSendError,
    BusyInterval,
    CalendarConnector,
    CancellableCalendar,
    NoShowMarker,
    PermanentProviderError,
    ProviderError,
    SlotUnavailable,
)
from connectors.crm_fields import UNKNOWN_CONTACT
from connectors.local.calendar import LocalCalendar
from connectors.local.crm import LocalCrm
from domain.models import AppointmentEvent, Contact, Slot

log = structlog.get_logger(__name__)


# ---------------------------------------------------------------------------- helpers for the adapters


def busy_from_free(free: list[Slot], start: datetime, end: datetime) -> list[BusyInterval]:
    """Schedulers report bookable times, not busy ones: everything in [start, end) outside them is busy."""
    busy: list[BusyInterval] = []
    cursor = start
    for slot in sorted(free, key=lambda s: s.start):
        if slot.end <= start or slot.start >= end:
            continue
        if slot.start > cursor:
            busy.append(BusyInterval(start=cursor, end=slot.start))
        cursor = max(cursor, slot.end)
    if cursor < end:
        busy.append(BusyInterval(start=cursor, end=end))
    return busy


def pick_calendar(provider: str, calendar_id: str, accepts: Callable[[str], bool], default: str | None,
                  env: str) -> str:
    """The provider calendar for an appointment's calendar id: its own when it is one of this provider's, else
    the configured default (appointments from another source carry that source's calendar id)."""
    if calendar_id and accepts(calendar_id):
        return calendar_id
    if default:
        return default
    # the id itself is not in the message: a calendar id can be a person's address
    raise PermanentProviderError(f"{provider}: the appointment's calendar is not a {provider} calendar and "
                                 f"{env} is not set", code="no_calendar")


def own_or_unavailable(own: Callable[[], str | None], message: str) -> str:
    """The booking a retry already made, when the time it asked for is no longer offered; else SlotUnavailable."""
    found = own()
    if found is None:
        raise SlotUnavailable(message)
    return found


def create_once(create: Callable[[], str], own: Callable[[], str | None], taken: Callable[[PermanentProviderError],
                bool], provider: str) -> str:
    """A remote booking made at most once for providers without an idempotency key: after an unanswered create, or
    a refusal `taken` reads as "that time is gone", the booking is looked for (`own`, by the marker it carries)
    before anything is raised."""
    try:
        return create()
    except AmbiguousSendError:
        found = own()
        if found is None:
            raise
        return found
    except PermanentProviderError as exc:
        if not taken(exc):
            raise
        found = own()
        if found is None:
            raise SlotUnavailable(f"{provider}: the time was refused") from exc
        return found


# ---------------------------------------------------------------------------- calendar


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class MirroredCalendar:
    """Presents the local calendar's interface (activities and the backfill use it) over a provider adapter."""

    def __init__(self, provider: CalendarConnector, local: LocalCalendar, name: str) -> None:
        self.provider = provider
        self.local = local
        self.db = local.db
        self.name = name

    def busy(self, calendar_id: str, start: datetime, end: datetime, exclude_case: str | None = None
             ) -> list[BusyInterval]:
        # the provider's busy time, plus other cases' holds and the engine's own bookings not yet visible there
        try:
            remote = self.provider.busy(calendar_id, start, end)
        except PermanentProviderError as exc:
            if exc.code != "no_calendar":
                raise
            # an appointment from another source with no default calendar configured: nothing to offer, so the
            # case hands over to staff ("no open slots") instead of failing
            log.warning("no_provider_calendar", provider=self.name)
            remote = [BusyInterval(start=start, end=end)]
        return remote + self.local.busy(calendar_id, start, end, exclude_case)

    def hold(self, slot: Slot, case_id: str, expires_at: datetime, before: timedelta | None = None,
             after: timedelta | None = None) -> Slot:
        return self.local.hold(slot, case_id, expires_at, before=before, after=after)

    def record_event(self, event: AppointmentEvent) -> bool:
        """A booking heard of by webhook or reconciliation: busy time in the local mirror until the provider's
        own availability shows it."""
        return self.local.record_event(event)

    def _booked_with(self, idempotency_key: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT appointment_id FROM appointments WHERE idempotency_key = ?",
                               (idempotency_key,)).fetchone()
        return str(row[0]) if row else None

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        done = self._booked_with(idempotency_key)
        if done is not None:
            return done
        if self.local.busy(slot.calendar_id, slot.start, slot.end, exclude_case=case_id):
            raise SlotUnavailable("slot is held or booked for another case")
        appointment_id = self.provider.book(slot, case_id, appointment_type, contact_id, idempotency_key)
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO appointments (appointment_id, calendar_id, owner_id, contact_id, "
                "appointment_type, start_at, end_at, status, case_id, idempotency_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?)",
                (appointment_id, slot.calendar_id, slot.owner_id, contact_id, appointment_type, _iso(slot.start),
                 _iso(slot.end), case_id, idempotency_key),
            )
            conn.execute("DELETE FROM holds WHERE case_id = ?", (case_id,))
        return appointment_id

    def release(self, case_id: str) -> None:
        self.local.release(case_id)
        self.provider.release(case_id)

    def appointment(self, appointment_id: str) -> dict[str, object] | None:
        return self.local.appointment(appointment_id)

    def set_status(self, appointment_id: str, status: str) -> None:
        """Cancelling a booking the engine made cancels it at the provider too (idempotent there)."""
        row = self.local.appointment(appointment_id)
        if status == "cancelled" and row is not None and row.get("case_id") and row.get("status") == "booked" \
                and isinstance(self.provider, CancellableCalendar):
            self.provider.cancel(str(row["calendar_id"]), appointment_id, "cancelled at the customer's request")
        self.local.set_status(appointment_id, status)

    def attendance(self, appointment_id: str) -> list[dict[str, object]]:
        return self.local.attendance(appointment_id)

    def add_signal(self, appointment_id: str, kind: str, at: datetime, **kwargs: Any) -> None:
        self.local.add_signal(appointment_id, kind, at, **kwargs)

    def add_owner(self, owner_id: str, display_name: str, calendar_id: str) -> None:
        self.local.add_owner(owner_id, display_name, calendar_id)

    def add_appointment(self, *args: Any, **kwargs: Any) -> None:
        self.local.add_appointment(*args, **kwargs)


# ---------------------------------------------------------------------------- CRM


class RemoteCrm(Protocol):
    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]: ...

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None: ...

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None: ...

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None: ...

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None: ...


class WritebackCrm:
    """Presents the local CRM's interface (CaseService, the backfill and the CRM activity use it)."""

    def __init__(self, local: LocalCrm, remote: RemoteCrm | None = None, marker: NoShowMarker | None = None,
                 marker_source: str | None = None) -> None:
        self.local = local
        self.db = local.db
        self.protected = local.protected
        self.remote = remote
        self.marker = marker
        self.marker_source = marker_source

    # contacts: always local
    def upsert_contact(self, contact: Contact) -> None:
        """Merge: a later event that carries only an email (a no-show report) must not erase the name and phone
        the booking gave (the scheduler needs the name to book)."""
        known = self.local.contact(contact.contact_id)
        if known is not None:
            merged = {k: v for k, v in contact.model_dump().items() if v is not None}
            contact = known.model_copy(update=merged)
        self.local.upsert_contact(contact)

    def contact(self, contact_id: str) -> Contact | None:
        return self.local.contact(contact_id)

    def seed_field(self, contact_id: str, appointment_id: str, field: str, value: str | None) -> None:
        self.local.seed_field(contact_id, appointment_id, field, value)

    # fields, notes, tasks: remote when configured, local always
    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        if self.remote is not None:
            try:
                return self.remote.read_fields(contact_id, appointment_id)
            except PermanentProviderError as exc:
                if exc.code != UNKNOWN_CONTACT:
                    raise
                log.info("crm_contact_unknown_remotely", action="read")
        return self.local.read_fields(contact_id, appointment_id)

    def _written(self, idempotency_key: str) -> bool:
        with self.db.connect() as conn:
            return conn.execute("SELECT 1 FROM crm_writes WHERE idempotency_key = ? LIMIT 1",
                                (idempotency_key,)).fetchone() is not None

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        if self._written(idempotency_key):
            return
        if self.remote is not None:
            try:
                self.remote.write_fields(contact_id, appointment_id, fields, idempotency_key)
                self._record_booking(contact_id, fields, idempotency_key)
            except PermanentProviderError as exc:
                if exc.code != UNKNOWN_CONTACT:
                    raise
                log.info("crm_contact_unknown_remotely", action="write")
        if fields.get("outcome") == "no_show":
            self._mark_no_show(contact_id, appointment_id)
        self.local.write_fields(contact_id, appointment_id, fields, idempotency_key)

    def _record_booking(self, contact_id: str, fields: dict[str, str | None], idempotency_key: str) -> None:
        """The rebooked appointment as a CRM record (a HubSpot meeting), timed from the engine's own booking."""
        when = fields.get("next_appointment")
        if not when or self.remote is None:
            return
        start = datetime.fromisoformat(when)
        end = start + timedelta(minutes=30)
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT start_at, end_at, appointment_type FROM appointments WHERE contact_id = ? AND case_id IS NOT "
                "NULL AND status = 'booked'", (contact_id,)).fetchall()
        title = "Rebooked appointment"
        for booked_start, booked_end, appointment_type in rows:
            if datetime.fromisoformat(booked_start) == start:  # the engine's booking: its real length and type
                end, title = datetime.fromisoformat(booked_end), f"Rebooked: {appointment_type}"
                break
        self.remote.record_booking(contact_id, start, end, title, f"{idempotency_key}-booking")

    def _mark_no_show(self, contact_id: str, appointment_id: str) -> None:
        # only the appointment's own scheduler can mark it; contact ids carry their source as a prefix
        if self.marker is None or not contact_id.startswith(f"{self.marker_source}:"):
            return
        try:
            marked = self.marker.mark_no_show(appointment_id, self.local.contact(contact_id))
        except ProviderError as exc:
            log.warning("scheduler_no_show_mark_failed", source=self.marker_source, error=type(exc).__name__,
                        code=getattr(exc, "code", None))
            return
        log.info("scheduler_no_show_marked", source=self.marker_source, marked=marked)

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        if self.remote is not None:
            try:
                self.remote.append_note(contact_id, note, idempotency_key)
            except PermanentProviderError as exc:
                if exc.code != UNKNOWN_CONTACT:
                    raise
                log.info("crm_contact_unknown_remotely", action="note")
        self.local.append_note(contact_id, note, idempotency_key)

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None:
        if self.remote is not None:
            try:
                self.remote.create_task(owner_id, title, idempotency_key, contact_id=contact_id)
            except PermanentProviderError as exc:
                if exc.code != UNKNOWN_CONTACT:
                    raise
                log.info("crm_contact_unknown_remotely", action="task")
        self.local.create_task(owner_id, title, idempotency_key)
