"""Microsoft Graph client for Outlook calendars: subscriptions (create, renew, delete;
https://learn.microsoft.com/en-us/graph/api/resources/subscription), findMeetingTimes, calendarView, event
create/update, and incremental sync with `calendarView/delta`
(https://learn.microsoft.com/en-us/graph/delta-query-events). Reads ask for UTC
with `Prefer: outlook.timezone="UTC"`. Base URL configurable. The CalendarConnector adapter over this client is
connectors/outlook/calendar.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import segment
from connectors.inbound import UNKNOWN_TYPE, clip, contact_id_for, opt_dt
from connectors.oauth import BearerJsonApi, TokenSource
from connectors.sync import Snapshot, SyncPage
from domain.models import Appointment, Contact, Slot

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
UTC_PREFER = {"Prefer": 'outlook.timezone="UTC"'}
MAX_SUBSCRIPTION = timedelta(minutes=4230)  # Outlook event subscriptions: < 3 days; renew every ~2 days
FREE = {"free", "workingElsewhere"}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _user(user: str) -> str:
    """A Graph user id or user principal name as one path segment (an address keeps its `@`)."""
    return segment(user, "@")


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


class OutlookClient(BearerJsonApi):
    """`access_token` = a Graph access token or a callable returning one (delegated Calendars.ReadWrite;
    Calendars.Read.Shared for findMeetingTimes). Env NOSHOW_GRAPH_ACCESS_TOKEN for a static token."""

    provider = "outlook"

    def __init__(self, access_token: TokenSource, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        super().__init__(access_token, base_url, timeout, http)

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
        resp = self.call("POST", f"/users/{_user(user)}/findMeetingTimes", json_body=body,
                         headers=UTC_PREFER) or {}
        slots: list[Slot] = []
        for s in resp.get("meetingTimeSuggestions") or []:
            slot = s.get("meetingTimeSlot") or {}
            begin, finish = _graph_dt(slot.get("start")), _graph_dt(slot.get("end"))
            if begin and finish:
                slots.append(Slot(start=begin, end=finish, calendar_id=user))
        return slots

    def calendar_view(self, user: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        path: str | None = f"/users/{_user(user)}/calendarView"
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
        return dict(self.call("POST", f"/users/{_user(user)}/events", json_body=body) or {})

    def update_event(self, user: str, event_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/users/{_user(user)}/events/{segment(event_id)}",
                              json_body=patch) or {})

    def cancel_event(self, user: str, event_id: str, comment: str | None = None) -> None:
        """`POST /users/{id}/events/{id}/cancel` (organizer only; attendees get a cancellation):
        https://learn.microsoft.com/en-us/graph/api/event-cancel."""
        self.call("POST", f"/users/{_user(user)}/events/{segment(event_id)}/cancel",
                  json_body={"comment": comment or ""})

    # ------------------------------------------------------------------ sync
    def sync(self, user: str, cursor: str | None, window_start: datetime, window_end: datetime,
             source: str = "outlook", raw: list[dict[str, Any]] | None = None) -> SyncPage:
        """Delta over the calendar view. `cursor` is the last @odata.deltaLink; 410 (expired) -> full resync.
        `raw`, when given, receives the delta items as Graph sent them (e.g. to read online-meeting links)."""
        full = cursor is None
        if cursor:
            try:
                items, link = self._delta(cursor, None)
            except PermanentProviderError as exc:
                if exc.code not in ("410", "syncStateNotFound", "resyncRequired"):
                    raise
                full = True
        if full:
            items, link = self._delta(f"/users/{_user(user)}/calendarView/delta",
                                      {"startDateTime": _iso(window_start), "endDateTime": _iso(window_end)})
        if raw is not None:
            raw.extend(items)
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
