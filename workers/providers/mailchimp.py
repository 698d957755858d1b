"""Mailchimp built from settings: the Marketing API client, the reactivation audience the CRM activity adds
contacts to, and the audience webhook connector. No network here."""

from __future__ import annotations

from activities.audience import ReactivationAudience
from connectors.local.consent import ConsentLedger
from connectors.mailchimp.client import MailchimpClient
from connectors.mailchimp.inbound import MailchimpWebhook
from connectors.settings import secret
from workers.settings import Settings


def mailchimp_client(s: Settings) -> MailchimpClient | None:
    key = secret(s.mailchimp.api_key)
    if key is None:
        return None
    return MailchimpClient(key, base_url=(s.mailchimp.base_url or "").strip() or None,
                           timeout=s.mailchimp.timeout_seconds)


def mailchimp_audience(s: Settings, consent: ConsentLedger) -> ReactivationAudience | None:
    client = mailchimp_client(s)
    if client is None:
        return None
    return ReactivationAudience(client, consent, s.auth.id_salt, s.routing.default_region)


def mailchimp_inbound(s: Settings) -> MailchimpWebhook:
    return MailchimpWebhook(secret(s.mailchimp.webhook_secret) or "")


def mailchimp_probe(s: Settings) -> str:
    """Read-only: `GET /ping` answers "Everything's Chimpy!" for a valid key."""
    client = mailchimp_client(s)
    if client is None:
        return "not configured"
    return str(client.ping().get("health_status") or "reachable")[:60]
