"""The Airtable webhook kept alive: webhooks expire 7 days after creation or their last refresh (UNVERIFIED
number), so the push Schedule refreshes it every run with `POST /v0/bases/{baseId}/webhooks/{webhookId}/refresh`
(https://airtable.com/developers/web/api/refresh-a-webhook); the answer names the new `expirationTime` (null for
token types whose webhooks do not expire)."""

from __future__ import annotations

from datetime import datetime

from connectors.airtable.client import AirtableClient
from connectors.inbound import opt_dt
from domain.reconcile import RenewalReport


class AirtableWebhookKeeper:
    def __init__(self, client: AirtableClient, base_id: str, webhook_id: str) -> None:
        self.client, self.base_id, self.webhook_id = client, base_id, webhook_id

    def maintain(self, now: datetime) -> RenewalReport:
        return RenewalReport(expires_at=opt_dt(self.client.refresh_webhook(self.base_id, self.webhook_id)))
