"""Google Calendar push channels that survive restarts, and their renewal
(https://developers.google.com/calendar/api/guides/push).

`SqliteChannelStore` keeps every channel this deployment opened (id, token, resource id, calendar, expiration,
reconcile source) in the local database, so the API process that checks notifications and the worker that renews
channels see the same set, and a restart forgets nothing. A channel that was stopped is deleted: its
notifications are then refused (401) like any unknown channel.

`ChannelKeeper.maintain` is idempotent and converges: when no channel of the calendar will outlive the renewal
window it opens a new one first, then stops every other channel of that calendar (there is no renew call, and
stopping first would leave a gap in notifications). A retried run after a failure mid-way finds the new channel
already open and only stops the old ones. A stop that Google answers 404 (already gone, e.g. expired) just
forgets the channel.

The incremental sync token is not kept here: it is the `google` source's reconcile cursor (`reconcile_cursor`),
committed only after the events it produced were delivered.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta

from connectors.contract import PermanentProviderError
from connectors.google.client import GoogleCalendarClient
from connectors.google.inbound import GoogleChannel
from connectors.local.db import LocalDb
from domain.reconcile import ChannelReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS google_channels (
    channel_id TEXT PRIMARY KEY,        -- our uuid (X-Goog-Channel-ID)
    token TEXT NOT NULL,                -- our secret (X-Goog-Channel-Token)
    calendar_id TEXT NOT NULL,
    resource_id TEXT,                   -- Google's id of the watched collection, needed to stop the channel
    expiration TEXT,                    -- ISO UTC, as Google answered
    source TEXT NOT NULL,               -- the reconcile source that syncs the calendar
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS google_channels_calendar ON google_channels (calendar_id, source);
"""

DEFAULT_TTL = timedelta(days=7)  # what we ask for; Google may grant less (its maximum is UNVERIFIED)
DEFAULT_RENEW_BEFORE = timedelta(days=1)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


class SqliteChannelStore:
    """connectors.google.inbound.ChannelStore in the local database."""

    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    @staticmethod
    def _channel(row: object) -> GoogleChannel:
        r = dict(row)  # type: ignore[call-overload]
        return GoogleChannel(channel_id=r["channel_id"], token=r["token"], calendar_id=r["calendar_id"],
                             resource_id=r["resource_id"], source=r["source"],
                             expiration=datetime.fromisoformat(r["expiration"]) if r["expiration"] else None)

    def get(self, channel_id: str) -> GoogleChannel | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM google_channels WHERE channel_id = ?", (channel_id,)).fetchone()
        return self._channel(row) if row else None

    def put(self, channel: GoogleChannel) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO google_channels (channel_id, token, calendar_id, resource_id, expiration, source, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET "
                "token = excluded.token, calendar_id = excluded.calendar_id, resource_id = excluded.resource_id, "
                "expiration = excluded.expiration, source = excluded.source",
                (channel.channel_id, channel.token, channel.calendar_id, channel.resource_id,
                 _iso(channel.expiration), channel.source, datetime.now(UTC).isoformat()),
            )

    def remove(self, channel_id: str) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute("DELETE FROM google_channels WHERE channel_id = ?", (channel_id,))

    def all(self) -> list[GoogleChannel]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT * FROM google_channels ORDER BY created_at").fetchall()
        return [self._channel(r) for r in rows]


class ChannelKeeper:
    """Keeps exactly one live push channel on `calendar_id` pointing at `address` (the public
    `/webhooks/google` URL, https for Google to accept it)."""

    def __init__(self, client: GoogleCalendarClient, store: SqliteChannelStore, address: str, calendar_id: str,
                 source: str = "google", ttl: timedelta = DEFAULT_TTL,
                 renew_before: timedelta = DEFAULT_RENEW_BEFORE) -> None:
        if renew_before >= ttl:
            raise ValueError("renew_before must be shorter than the channel lifetime")
        self.client, self.store, self.address = client, store, address
        self.calendar_id, self.source, self.ttl, self.renew_before = calendar_id, source, ttl, renew_before

    def _fresh(self, channel: GoogleChannel, now: datetime) -> bool:
        return channel.expiration is None or channel.expiration - now > self.renew_before

    def maintain(self, now: datetime) -> ChannelReport:
        mine = [c for c in self.store.all() if c.calendar_id == self.calendar_id and c.source == self.source]
        fresh = [c for c in mine if self._fresh(c, now)]
        opened: str | None = None
        if not fresh:
            new = self.client.watch(self.calendar_id, self.address, None, self.ttl)
            new = new.model_copy(update={"source": self.source})
            self.store.put(new)  # stored before anything is stopped: its notifications are accepted at once
            fresh, opened = [new], new.channel_id
        far = datetime.max.replace(tzinfo=UTC)
        keep = max(fresh, key=lambda c: c.expiration or far)
        stopped: list[str] = []
        for old in mine:
            if old.channel_id == keep.channel_id:
                continue
            # a 404 means already gone at Google (expired or stopped earlier): forget it here too
            with suppress(PermanentProviderError):
                self.client.stop_channel(old)
            self.store.remove(old.channel_id)
            stopped.append(old.channel_id)
        return ChannelReport(calendar_id=self.calendar_id, source=self.source, active=keep.channel_id,
                             expires=keep.expiration, opened=opened, stopped=stopped)
