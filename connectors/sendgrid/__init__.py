"""SendGrid: outbound email (SendGridChannel), the signed Event Webhook (SendGridEventWebhook) and Inbound
Parse replies (SendGridInboundParse)."""

from __future__ import annotations

import importlib
from typing import Any

# lazy, so that reading the settings does not import the provider's SDK
_EXPORTS = {
    "SendGridChannel": "connectors.sendgrid.channel",
    "SendGridEventWebhook": "connectors.sendgrid.events",
    "SendGridInboundParse": "connectors.sendgrid.parse",
    "SendGridSettings": "connectors.sendgrid.settings",
    "consent_effect": "connectors.sendgrid.events",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
