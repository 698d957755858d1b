"""Microsoft Graph change-notification subscriptions that survive restarts, and their upkeep.

Graph references: https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks (delivery and
validation), https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events (lifecycle
notifications), https://learn.microsoft.com/en-us/graph/api/resources/subscription (maximum lifetimes).

`SqliteSubscriptionStore` keeps the subscriptions this deployment created (id, resource, expiration, status) in the
local database; the clientState secret is not stored (it comes from settings). `SubscriptionKeeper.maintain` is
idempotent and converges on exactly one live subscription per (source, resource):

- none known, or the only one was removed by Graph -> create it (`POST /subscriptions`; Graph runs the validation
  handshake against our notification URL before answering);
- one expiring within the renewal window, or flagged by a `reauthorizationRequired` lifecycle notification ->
  renew it (`PATCH /subscriptions/{id}` with a new `expirationDateTime`; Graph's lifecycle page accepts either
  the `reauthorize` action or a renewal in answer to `reauthorizationRequired`, and one PATCH does both);
- a renewal Graph answers 404 (the subscription is gone) -> forget it and create a new one;
- more than one live -> keep the longest-lived, delete the others.

Outlook event subscriptions last at most 4230 minutes (< 3 days); renewing a day before expiry renews about
every two days, as recommended. Lifecycle notifications are recorded by `note_lifecycle`, which the API calls:
`reauthorizationRequired` and `subscriptionRemoved` flag the subscription for the next run (the API triggers it
at once), `missed` means notifications were lost: the caller reconciles the mailbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from connectors.contract import PermanentProviderError
from connectors.inbound import opt_dt
from connectors.local.db import LocalDb
from connectors.outlook.client import MAX_SUBSCRIPTION, OutlookClient
from connectors.outlook.inbound import GraphChange
from domain.reconcile import SubscriptionReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS graph_subscriptions (
    subscription_id TEXT PRIMARY KEY,   -- Graph's id
    source TEXT NOT NULL,               -- the reconcile source that syncs the mailbox
    resource TEXT NOT NULL,             -- e.g. users/{id}/events
    expiration TEXT NOT NULL,           -- ISO UTC, as Graph answered
    status TEXT NOT NULL,               -- active | reauthorize | removed
    updated_at TEXT NOT NULL
);
"""

Status = Literal["active", "reauthorize", "removed"]
DEFAULT_RENEW_BEFORE = timedelta(days=1)
GONE_CODES = frozenset({"404", "ResourceNotFound", "itemNotFound", "ErrorItemNotFound"})


class GraphSubscription(BaseModel):
    subscription_id: str
    source: str = "outlook"
    resource: str
    expiration: datetime
    status: Status = "active"


class SqliteSubscriptionStore:
    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    @staticmethod
    def _sub(row: Any) -> GraphSubscription:
        r = dict(row)
        return GraphSubscription(subscription_id=r["subscription_id"], source=r["source"], resource=r["resource"],
                                 expiration=datetime.fromisoformat(r["expiration"]), status=r["status"])

    def get(self, subscription_id: str) -> GraphSubscription | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM graph_subscriptions WHERE subscription_id = ?",
                               (subscription_id,)).fetchone()
        return self._sub(row) if row else None

    def put(self, sub: GraphSubscription) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO graph_subscriptions (subscription_id, source, resource, expiration, status, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subscription_id) DO UPDATE SET source = excluded.source, "
                "resource = excluded.resource, expiration = excluded.expiration, status = excluded.status, "
                "updated_at = excluded.updated_at",
                (sub.subscription_id, sub.source, sub.resource, sub.expiration.astimezone(UTC).isoformat(),
                 sub.status, datetime.now(UTC).isoformat()),
            )

    def flag(self, subscription_id: str, status: Status) -> bool:
        """Mark a known subscription; False when it is not ours (nothing changes)."""
        with self.db.connect(immediate=True) as conn:
            cur = conn.execute("UPDATE graph_subscriptions SET status = ?, updated_at = ? WHERE subscription_id = ?",
                               (status, datetime.now(UTC).isoformat(), subscription_id))
            return cur.rowcount > 0

    def remove(self, subscription_id: str) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute("DELETE FROM graph_subscriptions WHERE subscription_id = ?", (subscription_id,))

    def all(self) -> list[GraphSubscription]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT * FROM graph_subscriptions ORDER BY updated_at").fetchall()
        return [self._sub(r) for r in rows]


def note_lifecycle(store: SqliteSubscriptionStore, changes: Iterable[GraphChange]) -> bool:
    """Record lifecycle notifications for our subscriptions; True when a renewal run is needed now.
    Notifications about subscriptions we do not know are ignored (their clientState matched, so they are ours
    from an earlier deployment, and nothing here can act on them)."""
    needed = False
    for change in changes:
        if change.lifecycle_event == "reauthorizationRequired":
            needed = store.flag(change.subscription_id, "reauthorize") or needed
        elif change.lifecycle_event == "subscriptionRemoved":
            needed = store.flag(change.subscription_id, "removed") or needed
    return needed


class SubscriptionKeeper:
    """Keeps one live subscription on `resource` (e.g. `users/{id}/events`) delivering to `notification_url`
    (the public `/webhooks/outlook` URL, also used for lifecycle notifications unless `lifecycle_url` is set).
    `client_state` = the first NOSHOW_GRAPH_CLIENT_STATE value (≤128 characters)."""

    def __init__(self, client: OutlookClient, store: SqliteSubscriptionStore, resource: str, notification_url: str,
                 client_state: str, source: str = "outlook", lifecycle_url: str | None = None,
                 lifetime: timedelta = MAX_SUBSCRIPTION, renew_before: timedelta = DEFAULT_RENEW_BEFORE) -> None:
        if not client_state or len(client_state) > 128:
            raise ValueError("clientState must be 1-128 characters")
        if renew_before >= lifetime:
            raise ValueError("renew_before must be shorter than the subscription lifetime")
        self.client, self.store, self.resource = client, store, resource
        self.notification_url, self.client_state, self.source = notification_url, client_state, source
        self.lifecycle_url = lifecycle_url or notification_url
        self.lifetime, self.renew_before = lifetime, renew_before

    def _expires(self, answer: dict[str, Any], asked: datetime) -> datetime:
        return opt_dt(answer.get("expirationDateTime")) or asked

    def maintain(self, now: datetime) -> SubscriptionReport:
        mine = [s for s in self.store.all() if s.source == self.source and s.resource == self.resource]
        renewed: list[str] = []
        forgotten: list[str] = []
        live: list[GraphSubscription] = []
        for sub in mine:
            if sub.status == "removed":
                self.store.remove(sub.subscription_id)  # Graph already deleted it
                forgotten.append(sub.subscription_id)
                continue
            if sub.status == "reauthorize" or sub.expiration - now <= self.renew_before:
                asked = now + self.lifetime
                try:
                    answer = self.client.renew_subscription(sub.subscription_id, asked)
                except PermanentProviderError as exc:
                    if exc.code not in GONE_CODES:
                        raise
                    self.store.remove(sub.subscription_id)
                    forgotten.append(sub.subscription_id)
                    continue
                sub = sub.model_copy(update={"expiration": self._expires(answer, asked), "status": "active"})
                self.store.put(sub)
                renewed.append(sub.subscription_id)
            live.append(sub)
        created: str | None = None
        if not live:
            asked = now + self.lifetime
            answer = self.client.create_subscription(self.resource, self.notification_url, self.client_state,
                                                     asked, lifecycle_url=self.lifecycle_url)
            sub_id = str(answer.get("id") or "")
            if not sub_id:
                raise PermanentProviderError("outlook: subscription create returned no id", code="no_id")
            sub = GraphSubscription(subscription_id=sub_id, source=self.source, resource=self.resource,
                                    expiration=self._expires(answer, asked))
            self.store.put(sub)
            live, created = [sub], sub_id
        keep = max(live, key=lambda s: s.expiration)
        deleted: list[str] = []
        for extra in live:
            if extra.subscription_id != keep.subscription_id:
                with suppress(PermanentProviderError):  # 404: already gone
                    self.client.delete_subscription(extra.subscription_id)
                self.store.remove(extra.subscription_id)
                deleted.append(extra.subscription_id)
        return SubscriptionReport(source=self.source, resource=self.resource, active=keep.subscription_id,
                                  expires=keep.expiration, created=created, renewed=renewed, forgotten=forgotten,
                                  deleted=deleted)
