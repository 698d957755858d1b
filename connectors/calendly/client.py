"""Calendly API v2 client (https://developer.calendly.com/api-docs): available times, no-show marks, single-use
scheduling links, event cancellation, direct booking (Create Event Invitee), and event/invitee listing for
reconciliation. Base URL configurable. The CalendarConnector adapter over this client is
connectors/calendly/calendar.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import RetryableProviderError, SlotUnavailable
from connectors.http import JsonApi, error_from_response
from connectors.inbound import PayloadError, parse_dt
from domain.models import Slot

DEFAULT_BASE_URL = "https://api.calendly.com"
# Phrases a refused booking may carry when the time was taken (Calendly's wording is UNVERIFIED)
_CONFLICT_HINTS = ("no longer available", "not available", "unavailable", "already booked")
# the most one request may span; longer ranges are split
# (https://developer.calendly.com/api-docs/calendly-api/event-types/list-event-type-available-times)
MAX_AVAILABILITY_RANGE = timedelta(days=31)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid(uri_or_uuid: str) -> str:
    return uri_or_uuid.rstrip("/").rsplit("/", 1)[-1]


class CalendlyClient(JsonApi):
    """`token` = personal access token or OAuth token (env NOSHOW_CALENDLY_TOKEN)."""

    provider = "calendly"

    def __init__(self, token: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(base_url, {"Authorization": f"Bearer {token}"}, timeout, http)

    def available_times(self, event_type_uri: str, start: datetime, end: datetime,
                        slot_minutes: int = 30) -> list[Slot]:
        """Future times only; the API refuses ranges over 31 days, so longer windows are split."""
        slots: list[Slot] = []
        cursor = start
        while cursor < end:
            upper = min(end, cursor + MAX_AVAILABILITY_RANGE)
            body = self.call("GET", "/event_type_available_times", params={
                "event_type": event_type_uri, "start_time": _iso(cursor), "end_time": _iso(upper)})
            for item in (body or {}).get("collection") or []:
                if item.get("status", "available") != "available":
                    continue
                begin = parse_dt(item.get("start_time"), "start_time")
                slots.append(Slot(start=begin, end=begin + timedelta(minutes=slot_minutes),
                                  calendar_id=event_type_uri))
            cursor = upper
        return slots

    def create_invitee(self, event_type_uri: str, start: datetime, email: str, name: str,
                       timezone: str | None = None, phone: str | None = None) -> dict[str, Any]:
        """Book directly: `POST /invitees` ("Create Event Invitee", Scheduling API, paid plans;
        https://developer.calendly.com/release-notes/2026/4/15 gives its rate limits). The request body here is
        UNVERIFIED. Returns the created invitee resource."""
        invitee: dict[str, Any] = {"email": email, "name": name, "timezone": timezone or "UTC"}
        if phone:
            invitee["text_reminder_number"] = phone
        response = self.request("POST", "/invitees", json_body={
            "event_type": event_type_uri, "start_time": _iso(start), "invitee": invitee}, ok=(400, 409, 422))
        if response.status_code in (400, 409, 422):
            text = response.text.lower()
            if response.status_code == 409 or any(h in text for h in _CONFLICT_HINTS):
                raise SlotUnavailable("calendly: the time is no longer available")
            raise error_from_response(response, self.provider)
        try:
            body = response.json() if response.content else {}
        except ValueError as exc:
            raise RetryableProviderError("calendly: a booking answer that is not JSON") from exc
        resource = (body or {}).get("resource") or {}
        if not isinstance(resource, dict) or not resource.get("uri"):
            raise PayloadError("Calendly invitee response has no uri")
        return dict(resource)

    def mark_no_show(self, invitee_uri: str) -> str:
        """Returns the no-show resource URI (needed to remove the mark)."""
        body = self.call("POST", "/invitee_no_shows", json_body={"invitee": invitee_uri})
        resource = (body or {}).get("resource") or {}
        if not resource.get("uri"):
            raise PayloadError("Calendly no-show response has no uri")
        return str(resource["uri"])

    def unmark_no_show(self, no_show_uri_or_uuid: str) -> None:
        self.call("DELETE", f"/invitee_no_shows/{_uuid(no_show_uri_or_uuid)}")

    def single_use_link(self, event_type_uri: str) -> str:
        body = self.call("POST", "/scheduling_links", json_body={
            "max_event_count": 1, "owner": event_type_uri, "owner_type": "EventType"})
        url = ((body or {}).get("resource") or {}).get("booking_url")
        if not url:
            raise PayloadError("Calendly scheduling link response has no booking_url")
        return str(url)

    def cancel_event(self, event_uri_or_uuid: str, reason: str | None = None) -> None:
        body = {"reason": reason} if reason else {}
        self.call("POST", f"/scheduled_events/{_uuid(event_uri_or_uuid)}/cancellation", json_body=body)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        next_url: str | None = path
        query: dict[str, Any] | None = params
        while next_url:
            body = self.call("GET", next_url, params=query) or {}
            for item in body.get("collection") or []:
                if isinstance(item, dict):
                    yield item
            next_url = (body.get("pagination") or {}).get("next_page")
            query = None  # next_page is a complete URL with the query in it

    def scheduled_events(self, owner: dict[str, str], min_start: datetime, max_start: datetime
                         ) -> Iterator[dict[str, Any]]:
        """`owner` is {"user": <URI>} or {"organization": <URI>}."""
        return self._pages("/scheduled_events", {**owner, "min_start_time": _iso(min_start),
                                                 "max_start_time": _iso(max_start), "count": 100})

    def invitees(self, event_uri: str) -> Iterator[dict[str, Any]]:
        return self._pages(f"/scheduled_events/{_uuid(event_uri)}/invitees", {"count": 100})

    def changed_invitees(self, owner: dict[str, str], since: datetime, now: datetime,
                         lookback: timedelta = timedelta(days=2), horizon: timedelta = timedelta(days=60)
                         ) -> list[dict[str, Any]]:
        """Invitees (each with its `scheduled_event` attached, as in webhooks) updated after `since`, for events
        starting in [since - lookback, now + horizon]. Calendly has no updated-since filter on events."""
        changed: list[dict[str, Any]] = []
        for event in self.scheduled_events(owner, since - lookback, now + horizon):
            for invitee in self.invitees(str(event.get("uri", ""))):
                updated = invitee.get("updated_at") or invitee.get("created_at")
                if updated and parse_dt(updated) > since:
                    changed.append({**invitee, "scheduled_event": event})
        return sorted(changed, key=lambda i: str(i.get("updated_at") or ""))
