"""contract.CalendarConnector over an Outlook mailbox through Microsoft Graph: availability from the calendar view,
bookings created with a `transactionId` (Graph drops a retried create), cancellation with the event `cancel`
action (https://learn.microsoft.com/en-us/graph/api/event-cancel).

`calendar_id` is the mailbox (user id or UPN). Holds are local bookkeeping. Graph accepts overlapping events, so
booking re-reads the calendar view and refuses a busy slot (SlotUnavailable: the engine re-offers).
`findMeetingTimes` (OutlookClient.find_meeting_times) needs delegated Calendars.Read.Shared and works for
work/school mailboxes only (https://learn.microsoft.com/en-us/graph/api/user-findmeetingtimes), so availability
uses the calendar view, which any calendar-read permission allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.contract import BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.local_holds import LocalHolds
from connectors.outlook.client import FREE, OutlookClient, _graph_dt
from connectors.writeback import pick_calendar
from domain.models import Contact, Slot

GONE = {"404", "410", "ErrorItemNotFound", "ResourceNotFound"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _graph_time(at: datetime) -> dict[str, str]:
    return {"dateTime": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def is_mailbox(calendar_id: str) -> bool:
    """A Graph user id (GUID) or user principal name (an address)."""
    return bool(_GUID.match(calendar_id)) or "@" in calendar_id


class OutlookCalendar:
    """`default_user` (NOSHOW_GRAPH_USER) serves appointments from other sources."""

    name = "outlook"

    def __init__(self, client: OutlookClient, contact_lookup: Callable[[str], Contact | None],
                 default_user: str | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.contact_lookup = contact_lookup
        self.default_user = default_user
        self.clock = clock
        self.holds = LocalHolds()
        self._booked: dict[str, str] = {}

    def mailbox(self, calendar_id: str) -> str:
        return pick_calendar(self.name, calendar_id, is_mailbox, self.default_user, "NOSHOW_GRAPH_USER")

    def _busy_events(self, user: str, start: datetime, end: datetime) -> list[tuple[dict[str, Any], BusyInterval]]:
        out: list[tuple[dict[str, Any], BusyInterval]] = []
        for ev in self.client.calendar_view(user, start, end):
            if ev.get("isCancelled") or ev.get("showAs") in FREE:
                continue
            begin, finish = _graph_dt(ev.get("start")), _graph_dt(ev.get("end"))
            if begin and finish and begin < end and start < finish:
                out.append((ev, BusyInterval(start=begin, end=finish)))
        return out

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        events = self._busy_events(self.mailbox(calendar_id), start, end)
        return [b for _, b in events] + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        if idempotency_key in self._booked:
            return self._booked[idempotency_key]
        user = self.mailbox(slot.calendar_id)
        transaction = idempotency_key[:100]
        for ev, _ in self._busy_events(user, slot.start, slot.end):
            if ev.get("transactionId") == transaction:  # our own earlier attempt
                self._booked[idempotency_key] = str(ev["id"])
                self.holds.release(case_id)
                return str(ev["id"])
            raise SlotUnavailable("outlook: the slot is busy")
        contact = self.contact_lookup(contact_id)
        body: dict[str, Any] = {
            "subject": appointment_type, "start": _graph_time(slot.start), "end": _graph_time(slot.end),
            "categories": [appointment_type[:100]],
        }
        if contact is not None and contact.email:
            body["attendees"] = [{"type": "required", "emailAddress": {
                "address": contact.email, **({"name": contact.name} if contact.name else {})}}]
        created = self.client.create_event(user, body, transaction_id=transaction)
        event_id = str(created.get("id") or "")
        if not event_id:
            raise PermanentProviderError("outlook: create returned no id", code="no_id")
        self._booked[idempotency_key] = event_id
        self.holds.release(case_id)
        return event_id

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        try:
            self.client.cancel_event(self.mailbox(calendar_id), appointment_id, reason)
        except PermanentProviderError as exc:
            if exc.code not in GONE:
                raise
