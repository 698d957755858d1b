"""The Gmail watch kept alive: `users.watch` must be called again before its `expiration`
(https://developers.google.com/gmail/api/guides/push: "renew the watch at least every 7 days"; UNVERIFIED
cadence), so the push Schedule calls it every run. The first answer's `historyId` is where reply reading
starts when none is stored yet, so a reply that arrives before the first push is not skipped."""

from __future__ import annotations

from datetime import datetime

from connectors.gmail.client import GmailClient
from connectors.gmail.replies import HistoryStore
from connectors.inbound import opt_dt
from domain.reconcile import RenewalReport


class GmailWatchKeeper:
    def __init__(self, client: GmailClient, topic: str, store: HistoryStore, mailbox: str) -> None:
        self.client, self.topic, self.store, self.mailbox = client, topic, store, mailbox.lower()

    def maintain(self, now: datetime) -> RenewalReport:
        answer = self.client.watch(self.topic)
        history = str(answer.get("historyId") or "")
        if history.isdigit() and self.store.get(self.mailbox) is None:
            self.store.put(self.mailbox, history)
        return RenewalReport(expires_at=opt_dt(answer.get("expiration")))
