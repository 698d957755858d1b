"""SendGrid: outbound email (SendGridChannel), the signed Event Webhook (SendGridEventWebhook) and Inbound
Parse replies (SendGridInboundParse)."""

from connectors.sendgrid.channel import SendGridChannel, SendGridSettings
from connectors.sendgrid.events import SendGridEventWebhook, consent_effect
from connectors.sendgrid.parse import SendGridInboundParse

__all__ = ["SendGridChannel", "SendGridEventWebhook", "SendGridInboundParse", "SendGridSettings", "consent_effect"]
