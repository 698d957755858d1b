"""Twilio: outbound SMS / WhatsApp (TwilioChannel) and inbound messages + status callbacks (TwilioWebhook)."""

from __future__ import annotations

import importlib
from typing import Any

# lazy, so that reading the settings does not import the provider's SDK
_EXPORTS = {
    "MemorySendLog": "connectors.twilio.sendlog",
    "SendLog": "connectors.twilio.sendlog",
    "SendRecord": "connectors.twilio.sendlog",
    "SqliteSendLog": "connectors.twilio.sendlog",
    "TwilioChannel": "connectors.twilio.channel",
    "TwilioSettings": "connectors.twilio.settings",
    "TwilioWebhook": "connectors.twilio.webhook",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
