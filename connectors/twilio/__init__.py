"""Twilio: outbound SMS / WhatsApp (TwilioChannel) and inbound messages + status callbacks (TwilioWebhook)."""

from __future__ import annotations

from connectors.lazy import lazy_exports

_EXPORTS = {
    "MemorySendLog": "connectors.twilio.sendlog",
    "SendLog": "connectors.twilio.sendlog",
    "SendRecord": "connectors.twilio.sendlog",
    "SqlSendLog": "connectors.twilio.sendlog",
    "SqliteSendLog": "connectors.twilio.sendlog",
    "TwilioChannel": "connectors.twilio.channel",
    "TwilioSettings": "connectors.twilio.settings",
    "TwilioWebhook": "connectors.twilio.webhook",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = sorted(_EXPORTS)
