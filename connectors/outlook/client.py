"""Microsoft Graph client for Outlook calendars (integrations.md §5.2): subscriptions (create, renew, delete),
findMeetingTimes, calendarView, event create/update, and incremental sync with `calendarView/delta`
(the delta endpoint is not in integrations.md; it is Graph's documented event delta query). Reads ask for UTC
with `Prefer: outlook.timezone="UTC"`. Base URL configurable."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import BusyInterval, PermanentProviderError, SlotUnavailable
from connectors.http import JsonApi
from connectors.inbound import UNKNOWN_TYPE, clip, contact_id_for, opt_dt
from connectors.local_holds import LocalHolds
from connectors.sync import Snapshot, SyncPage
from domain.models import Appointment, Contact, Slot

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
UTC_PREFER = {"Prefer": 'outlook.timezone="UTC"'}
MAX_SUBSCRIPTION = timedelta(minutes=4230)  # Outlook event subscriptions: < 3 days; renew every ~2 days
FREE = {"free", "workingElsewhere"}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _graph_dt(value: dict[str, Any] | None) -> datetime | None:
    """Graph dateTimeTimeZone; we request UTC, so a naive value is UTC."""
    if not value or not value.get("dateTime"):
        return None
    # Graph sends seven fractional digits; Python reads at most six
    text = re.sub(r"\.(\d{6})\d+", r".\1", str(value["dateTime"]))
    at = opt_dt(text)
    if at is not None and value.get("timeZone") not in (None, "UTC", "Etc/UTC") and "+" not in text[10:]:
        return None  # a non-UTC zone despite the Prefer header: refuse to guess
    return at


class OutlookClient(JsonApi):
    """`access_token` = a Graph access token or a callable returning one (delegated Calendars.ReadWrite;
    Calendars.Read.Shared for findMeetingTimes). Env NOSHOW_GRAPH_ACCESS_TOKEN for a static token."""

    provider = "outlook"

    def __init__(self, access_token: str | Callable[[], str], base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        super().__init__(base_url, {}, timeout, http)
        self._token = access_token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self._token() if callable(self._token) else self._token
        kwargs["headers"] = {"Authorization": f"Bearer {token}", **(kwargs.get("headers") or {})}
        return super().request(method, path, **kwargs)

    # ------------------------------------------------------------------ subscriptions
    def create_subscription(self, resource: str, notification_url: str, client_state: str,
                            expires_at: datetime, lifecycle_url: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"changeType": "created,updated,deleted", "notificationUrl": notification_url,
                                "resource": resource, "expirationDateTime": _iso(expires_at),
                                "clientState": client_state}
        if lifecycle_url:
            body["lifecycleNotificationUrl"] = lifecycle_url
        return dict(self.call("POST", "/subscriptions", json_body=body) or {})

    def renew_subscription(self, subscription_id: str, expires_at: datetime) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/subscriptions/{subscription_id}",
                              json_body={"expirationDateTime": _iso(expires_at)}) or {})

    def delete_subscription(self, subscription_id: str) -> None:
        self.call("DELETE", f"/subscriptions/{subscription_id}")

    # ------------------------------------------------------------------ availability
    def find_meeting_times(self, user: str, attendee_emails: list[str], start: datetime, end: datetime,
                           duration: timedelta, max_candidates: int = 10) -> list[Slot]:
        minutes = int(duration.total_seconds() // 60)
        body = {
            "attendees": [{"type": "required", "emailAddress": {"address": a}} for a in attendee_emails],
            "timeConstraint": {"activityDomain": "work", "timeSlots": [
                {"start": {"dateTime": _iso(start)[:-1], "timeZone": "UTC"},
                 "end": {"dateTime": _iso(end)[:-1], "timeZone": "UTC"}}]},
            "meetingDuration": f"PT{minutes // 60}H{minutes % 60}M", "maxCandidates": max_candidates,
            "isOrganizerOptional": False, "returnSuggestionReasons": True,
        }
        resp = self.call("POST", f"/users/{user}/findMeetingTimes", json_body=body, headers=UTC_PREFER) or {}
        slots: list[Slot] = []
        for s in resp.get("meetingTimeSuggestions") or []:
            slot = s.get("meetingTimeSlot") or {}
            begin, finish = _graph_dt(slot.get("start")), _graph_dt(slot.get("end"))
            if begin and finish:
                slots.append(Slot(start=begin, end=finish, calendar_id=user))
        return slots

    def calendar_view(self, user: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        path: str | None = f"/users/{user}/calendarView"
        params: dict[str, Any] | None = {"startDateTime": _iso(start), "endDateTime": _iso(end), "$top": 100}
        while path:
            body = self.call("GET", path, params=params, headers=UTC_PREFER) or {}
            items.extend(i for i in body.get("value") or [] if isinstance(i, dict))
            path, params = body.get("@odata.nextLink"), None
        return items

    # ------------------------------------------------------------------ events
    def create_event(self, user: str, event: dict[str, Any], transaction_id: str | None = None) -> dict[str, Any]:
        """`transactionId` makes Graph drop a retried create instead of making a second event."""
        body = {**event, **({"transactionId": transaction_id[:100]} if transaction_id else {})}
        return dict(self.call("POST", f"/users/{user}/events", json_body=body) or {})

    def update_event(self, user: str, event_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/users/{user}/events/{event_id}", json_body=patch) or {})

    # ------------------------------------------------------------------ sync
    def sync(self, user: str, cursor: str | None, window_start: datetime, window_end: datetime,
             source: str = "outlook") -> SyncPage:
        """Delta over the calendar view. `cursor` is the last @odata.deltaLink; 410 (expired) -> full resync."""
        full = cursor is None
        if cursor:
            try:
                items, link = self._delta(cursor, None)
            except PermanentProviderError as exc:
                if exc.code not in ("410", "syncStateNotFound", "resyncRequired"):
                    raise
                full = True
        if full:
            items, link = self._delta(f"/users/{user}/calendarView/delta",
                                      {"startDateTime": _iso(window_start), "endDateTime": _iso(window_end)})
        snaps = [s for s in (snapshot_from_event(i, user, source) for i in items) if s is not None]
        return SyncPage(snapshots=snaps, cursor=link or cursor, full_resync=full and cursor is not None)

    def _delta(self, path: str, params: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
        items: list[dict[str, Any]] = []
        next_path: str | None = path
        while next_path:
            body = self.call("GET", next_path, params=params, headers=UTC_PREFER) or {}
            items.extend(i for i in body.get("value") or [] if isinstance(i, dict))
            params = None
            next_path = body.get("@odata.nextLink")
            if not next_path:
                return items, body.get("@odata.deltaLink")
        return items, None


def snapshot_from_event(ev: dict[str, Any], user: str, source: str = "outlook") -> Snapshot | None:
    """A Graph event as an appointment snapshot. Skipped: all-day events and events with no external attendee.
    Deleted items in a delta (`@removed`) become cancelled snapshots with only the id known."""
    event_id = ev.get("id")
    if not event_id:
        return None
    changed = opt_dt(ev.get("lastModifiedDateTime")) or datetime.now(UTC)
    if "@removed" in ev:
        appt = Appointment(source=source, appointment_id=str(event_id)[:200], appointment_type=UNKNOWN_TYPE,
                           calendar_id=user[:200], start=changed, end=changed,
                           contact=Contact(contact_id=contact_id_for(source, None, fallback=str(event_id))))
        return Snapshot(appointment=appt, status="cancelled", changed_at=changed, note="event deleted")
    start, end = _graph_dt(ev.get("start")), _graph_dt(ev.get("end"))
    organizer = ((ev.get("organizer") or {}).get("emailAddress") or {}).get("address")
    guest = next((a for a in ev.get("attendees") or [] if isinstance(a, dict) and a.get("type") != "resource"
                  and ((a.get("emailAddress") or {}).get("address") or "").lower() != str(organizer or "").lower()),
                 None)
    if ev.get("isAllDay") or start is None or end is None or guest is None:
        return None
    addr = guest.get("emailAddress") or {}
    email = addr.get("address") if isinstance(addr.get("address"), str) else None
    categories = [str(c)[:100] for c in ev.get("categories") or []][:20]
    appt = Appointment(
        source=source, appointment_id=str(event_id)[:200],
        appointment_type=(categories[0] if categories else "calendar_event")[:100],
        calendar_id=user[:200], start=start, end=max(start, end), categories=categories,
        private=ev.get("sensitivity") in ("private", "confidential"),
        contact=Contact(contact_id=contact_id_for(source, email, fallback=str(event_id)),
                        name=clip(addr.get("name"), 200), email=clip(email, 254)),
    )
    response = ((guest.get("status") or {}).get("response") or "").lower()
    if ev.get("isCancelled") or response == "declined":
        return Snapshot(appointment=appt, status="cancelled", changed_at=changed,
                        note="guest declined" if response == "declined" else "event cancelled")
    return Snapshot(appointment=appt, status="active", changed_at=changed)


class OutlookCalendar:
    """contract.CalendarConnector over an Outlook mailbox (`calendar_id` = user id or UPN). Holds are local;
    booking re-reads the calendar view and refuses an overlap, then creates with a transactionId."""

    def __init__(self, client: OutlookClient, contact_lookup: Callable[[str], Contact | None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.contact_lookup = contact_lookup
        self.clock = clock
        self.holds = LocalHolds()
        self._booked: dict[str, str] = {}

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        out: list[BusyInterval] = []
        for ev in self.client.calendar_view(calendar_id, start, end):
            if ev.get("isCancelled") or ev.get("showAs") in FREE:
                continue
            begin, finish = _graph_dt(ev.get("start")), _graph_dt(ev.get("end"))
            if begin and finish:
                out.append(BusyInterval(start=begin, end=finish))
        return out + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        if idempotency_key in self._booked:
            return self._booked[idempotency_key]
        for ev in self.client.calendar_view(slot.calendar_id, slot.start, slot.end):
            if ev.get("transactionId") == idempotency_key[:100]:
                self._booked[idempotency_key] = str(ev["id"])
                return str(ev["id"])
            if not ev.get("isCancelled") and ev.get("showAs") not in FREE:
                raise SlotUnavailable("outlook: the slot is busy")
        contact = self.contact_lookup(contact_id)
        body: dict[str, Any] = {
            "subject": appointment_type,
            "start": {"dateTime": _iso(slot.start)[:-1], "timeZone": "UTC"},
            "end": {"dateTime": _iso(slot.end)[:-1], "timeZone": "UTC"},
            "categories": [appointment_type[:100]],
        }
        if contact is not None and contact.email:
            body["attendees"] = [{"type": "required", "emailAddress": {
                "address": contact.email, **({"name": contact.name} if contact.name else {})}}]
        created = self.client.create_event(slot.calendar_id, body, transaction_id=idempotency_key)
        event_id = str(created.get("id") or "")
        if not event_id:
            raise PermanentProviderError("outlook: create returned no id", code="no_id")
        self._booked[idempotency_key] = event_id
        self.holds.release(case_id)
        return event_id

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)
