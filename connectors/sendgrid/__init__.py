"""SendGrid: outbound email (SendGridChannel), the signed Event Webhook (SendGridEventWebhook) and Inbound
Parse replies (SendGridInboundParse)."""

from __future__ import annotations

from connectors.lazy import lazy_exports

_EXPORTS = {
    "SendGridChannel": "connectors.sendgrid.channel",
    "SendGridEventWebhook": "connectors.sendgrid.events",
    "SendGridInboundParse": "connectors.sendgrid.parse",
    "SendGridSettings": "connectors.sendgrid.settings",
    "consent_effect": "connectors.sendgrid.events",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = sorted(_EXPORTS)
