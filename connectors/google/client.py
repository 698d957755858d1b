"""Google Calendar API v3 client: push channels (watch, stop, renew;
https://developers.google.com/calendar/api/guides/push), incremental sync with sync tokens (410 Gone -> full
resync; https://developers.google.com/calendar/api/guides/sync), freeBusy, events insert/patch. Base URL
configurable. The CalendarConnector adapter over this client is connectors/google/calendar.py."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import BusyInterval, PermanentProviderError
from connectors.google.inbound import ChannelStore, GoogleChannel
from connectors.http import segment
from connectors.inbound import UNKNOWN_TYPE, clip, contact_id_for, opt_dt, parse_dt
from connectors.oauth import BearerJsonApi, TokenSource
from connectors.sync import Snapshot, SyncPage
from domain.models import Appointment, Contact

DEFAULT_BASE_URL = "https://www.googleapis.com/calendar/v3"
BOOKING_PROPERTY = "noshow_key"  # extendedProperties.private key holding our idempotency key


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_id_for(idempotency_key: str) -> str:
    """A client-chosen event id (base32hex, lower case, 5-1024 chars) so a retried insert is a 409, not a
    duplicate event."""
    raw = base64.b32hexencode(hashlib.sha256(idempotency_key.encode()).digest()).decode().lower()
    return raw.rstrip("=")


class GoogleCalendarClient(BearerJsonApi):
    """`access_token` = an OAuth access token, or a callable returning a fresh one (scopes:
    calendar.events + calendar.freebusy, or calendar). Env NOSHOW_GOOGLE_ACCESS_TOKEN for a static token."""

    provider = "google"

    def __init__(self, access_token: TokenSource, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        super().__init__(access_token, base_url, timeout, http)

    # ------------------------------------------------------------------ channels
    def watch(self, calendar_id: str, address: str, store: ChannelStore | None = None,
              ttl: timedelta | None = None) -> GoogleChannel:
        body: dict[str, Any] = {"id": str(uuid.uuid4()), "type": "web_hook", "address": address,
                                "token": secrets.token_urlsafe(32)}
        if ttl is not None:
            body["expiration"] = int((datetime.now(UTC) + ttl).timestamp() * 1000)
        resp = self.call("POST", f"/calendars/{segment(calendar_id)}/events/watch", json_body=body) or {}
        expiration = resp.get("expiration")
        channel = GoogleChannel(channel_id=body["id"], token=body["token"], calendar_id=calendar_id,
                                resource_id=resp.get("resourceId"),
                                expiration=parse_dt(int(expiration)) if expiration else None)
        if store is not None:
            store.put(channel)
        return channel

    def stop_channel(self, channel: GoogleChannel, store: ChannelStore | None = None) -> None:
        self.call("POST", "/channels/stop", json_body={"id": channel.channel_id, "resourceId": channel.resource_id})
        if store is not None:
            store.remove(channel.channel_id)

    def renew_channel(self, channel: GoogleChannel, address: str, store: ChannelStore | None = None,
                      ttl: timedelta | None = None) -> GoogleChannel:
        """There is no renew call: open a new channel first, then stop the old one (no gap in notifications)."""
        new = self.watch(channel.calendar_id, address, store, ttl)
        try:
            self.stop_channel(channel, store)
        except PermanentProviderError:
            if store is not None:
                store.remove(channel.channel_id)  # already gone at Google (404): forget it here too
        return new

    # ------------------------------------------------------------------ sync
    def list_changes(self, calendar_id: str, sync_token: str | None) -> tuple[list[dict[str, Any]], str | None, bool]:
        """(items, next sync token, full_resync). A 410 on the sync token means: drop local state, full sync."""
        if sync_token:
            try:
                items, token = self._list_all(calendar_id, {"syncToken": sync_token})
                return items, token, False
            except PermanentProviderError as exc:
                if exc.code not in ("410", "fullSyncRequired", "gone"):
                    raise
        items, token = self._list_all(calendar_id, {})
        return items, token, True

    def _list_all(self, calendar_id: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            query = {**params, "singleEvents": "true", "maxResults": 250}
            if page_token:
                query["pageToken"] = page_token
            body = self.call("GET", f"/calendars/{segment(calendar_id)}/events", params=query) or {}
            items.extend(i for i in body.get("items") or [] if isinstance(i, dict))
            page_token = body.get("nextPageToken")
            if not page_token:
                return items, body.get("nextSyncToken")

    def sync(self, calendar_id: str, cursor: str | None, source: str = "google",
             raw: list[dict[str, Any]] | None = None) -> SyncPage:
        """`raw`, when given, receives the listed items as Google sent them (e.g. to read conferencing links)."""
        items, token, full = self.list_changes(calendar_id, cursor)
        if raw is not None:
            raw.extend(items)
        snaps = [s for s in (snapshot_from_event(i, calendar_id, source) for i in items) if s is not None]
        # the first sync (no cursor) is a baseline, not a resync: only an expired token is one
        return SyncPage(snapshots=snaps, cursor=token or cursor, full_resync=full and cursor is not None)

    # ------------------------------------------------------------------ availability and events
    def free_busy(self, calendar_ids: list[str], start: datetime, end: datetime) -> dict[str, list[BusyInterval]]:
        body = self.call("POST", "/freeBusy", json_body={
            "timeMin": _iso(start), "timeMax": _iso(end), "timeZone": "UTC",
            "items": [{"id": c} for c in calendar_ids]}) or {}
        out: dict[str, list[BusyInterval]] = {}
        for cal_id in calendar_ids:
            entry = (body.get("calendars") or {}).get(cal_id) or {}
            if entry.get("errors"):
                reason = str((entry["errors"][0] or {}).get("reason") or "error")
                raise PermanentProviderError(f"google freeBusy error for a calendar ({reason})", code=reason)
            out[cal_id] = [BusyInterval(start=parse_dt(b["start"]), end=parse_dt(b["end"]))
                           for b in entry.get("busy") or []]
        return out

    def insert_event(self, calendar_id: str, event: dict[str, Any], send_updates: str = "all",
                     conference: bool = False) -> dict[str, Any]:
        params = {"sendUpdates": send_updates, **({"conferenceDataVersion": 1} if conference else {})}
        return dict(self.call("POST", f"/calendars/{segment(calendar_id)}/events", json_body=event,
                              params=params) or {})

    def patch_event(self, calendar_id: str, event_id: str, patch: dict[str, Any], send_updates: str = "all",
                    conference: bool = False) -> dict[str, Any]:
        params = {"sendUpdates": send_updates, **({"conferenceDataVersion": 1} if conference else {})}
        return dict(self.call("PATCH", f"/calendars/{segment(calendar_id)}/events/{segment(event_id)}",
                              json_body=patch, params=params) or {})

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/calendars/{segment(calendar_id)}/events/{segment(event_id)}") or {})


def _guest(ev: dict[str, Any]) -> dict[str, Any] | None:
    for att in ev.get("attendees") or []:
        if isinstance(att, dict) and not (att.get("organizer") or att.get("self") or att.get("resource")):
            return att
    return None


def snapshot_from_event(ev: dict[str, Any], calendar_id: str, source: str = "google") -> Snapshot | None:
    """A calendar event as an appointment snapshot. Skipped (None): all-day events and events without a guest
    (an owner's own block is not a customer appointment); cancelled items from a sync carry only the id, so
    they map to a cancelled snapshot with minimal fields (the differ only needs the id)."""
    event_id = ev.get("id")
    if not event_id:
        return None
    changed = opt_dt(ev.get("updated")) or datetime.now(UTC)
    if ev.get("status") == "cancelled" and not ev.get("start"):
        appt = Appointment(source=source, appointment_id=str(event_id), appointment_type=UNKNOWN_TYPE,
                           calendar_id=calendar_id[:200], start=changed, end=changed,
                           contact=Contact(contact_id=contact_id_for(source, None, fallback=str(event_id))))
        return Snapshot(appointment=appt, status="cancelled", changed_at=changed)
    start = (ev.get("start") or {}).get("dateTime")
    end = (ev.get("end") or {}).get("dateTime")
    guest = _guest(ev)
    if not start or not end or guest is None:
        return None
    props = ev.get("extendedProperties") or {}
    private, shared = props.get("private") or {}, props.get("shared") or {}
    appt_type = private.get("appointment_type") or shared.get("appointment_type") or "calendar_event"
    email = guest.get("email") if isinstance(guest.get("email"), str) else None
    appt = Appointment(
        source=source, appointment_id=str(event_id)[:200], appointment_type=str(appt_type)[:100],
        calendar_id=calendar_id[:200],
        start=parse_dt(start), end=parse_dt(end), private=ev.get("visibility") in ("private", "confidential"),
        contact=Contact(contact_id=contact_id_for(source, email, fallback=str(event_id)),
                        name=clip(guest.get("displayName"), 200), email=clip(email, 254),
                        timezone=clip((ev.get("start") or {}).get("timeZone"), 64)),
    )
    if ev.get("status") == "cancelled" or guest.get("responseStatus") == "declined":
        note = "guest declined" if guest.get("responseStatus") == "declined" else "event cancelled"
        return Snapshot(appointment=appt, status="cancelled", changed_at=changed, note=note)
    return Snapshot(appointment=appt, status="active", changed_at=changed)
