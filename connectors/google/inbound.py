"""Google Calendar push notifications (`events.watch`): https://developers.google.com/calendar/api/guides/push.

A notification is a POST with no body. Authenticity: `X-Goog-Channel-ID` must be a channel we created and
`X-Goog-Channel-Token` must equal its stored token (constant time); there is no HMAC. Replays are stopped on
(channel id, message number). The notification says only "something changed": `parse` returns no events;
`sync_needed(request)` names the calendar to sync and `parse` lists the channel's reconcile source in
`sync_sources`; the reconciliation run (incremental sync with the stored sync token) produces the canonical events.
`sync` messages (first after creating a channel) are acked. A channel that was stopped (renewed) or never created
here is unknown: its notifications are refused and start nothing. `connectors.google.channels` keeps channels in
the local database and opens / renews / stops them.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase
from connectors.signatures import ReplayCache, constant_time_equals, header, require


class GoogleChannel(BaseModel):
    channel_id: str
    token: str  # our secret: compared with X-Goog-Channel-Token, never logged
    calendar_id: str
    resource_id: str | None = None
    expiration: datetime | None = None
    source: str = "google"  # the reconcile source (Schedule `reconcile-<source>`) that syncs this calendar


class ChannelStore(Protocol):
    def get(self, channel_id: str) -> GoogleChannel | None: ...

    def put(self, channel: GoogleChannel) -> None: ...

    def remove(self, channel_id: str) -> None: ...

    def all(self) -> list[GoogleChannel]: ...


class InMemoryChannelStore:
    """In-memory store for tests and single-process use; `connectors.google.channels.SqliteChannelStore` keeps
    channels in the database so they survive restarts."""

    def __init__(self, channels: list[GoogleChannel] | None = None) -> None:
        self._channels = {c.channel_id: c for c in channels or []}
        self._lock = threading.Lock()

    def get(self, channel_id: str) -> GoogleChannel | None:
        with self._lock:
            return self._channels.get(channel_id)

    def put(self, channel: GoogleChannel) -> None:
        with self._lock:
            self._channels[channel.channel_id] = channel

    def remove(self, channel_id: str) -> None:
        with self._lock:
            self._channels.pop(channel_id, None)

    def all(self) -> list[GoogleChannel]:
        with self._lock:
            return list(self._channels.values())


class GoogleCalendarInbound(InboundBase):
    """`channels` = the store of channels this deployment created (ids + tokens), shared with the client that
    creates and renews them."""

    name = "google"

    def __init__(self, channels: ChannelStore, replay: ReplayCache | None = None) -> None:
        super().__init__(replay)
        self.channels = channels

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, "x-goog-message-number")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        channel_id = header(request.headers, "x-goog-channel-id")
        token = header(request.headers, "x-goog-channel-token")
        require(bool(channel_id) and token is not None, "missing X-Goog-Channel-ID or X-Goog-Channel-Token")
        channel = self.channels.get(channel_id or "")
        # compare against a dummy for unknown channels so both paths take the same time
        expected = channel.token if channel else "\x00unknown-channel"
        ok = constant_time_equals(expected, token)
        require(channel is not None and ok, "unknown channel or bad channel token")
        if channel and channel.expiration is not None and channel.expiration < now:
            raise SignatureError("channel expired")

    def dedupe_key(self, request: RawRequest) -> str | None:
        return (f"google:{header(request.headers, 'x-goog-channel-id') or ''}:"
                f"{header(request.headers, 'x-goog-message-number') or ''}")

    def parse(self, request: RawRequest) -> WebhookResult:
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if self.sync_needed(request) is not None:
            channel = self.channels.get(header(request.headers, "x-goog-channel-id") or "")
            result.sync_sources = [channel.source] if channel else []
        return result

    def sync_needed(self, request: RawRequest) -> str | None:
        """The calendar id to sync incrementally now, or None for the `sync` hello message."""
        state = (header(request.headers, "x-goog-resource-state") or "").lower()
        if state == "sync":
            return None
        channel = self.channels.get(header(request.headers, "x-goog-channel-id") or "")
        return channel.calendar_id if channel else None
