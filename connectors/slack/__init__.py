"""Slack: review requests with buttons (SlackReviewNotifier) and signed button clicks (SlackInteractivity)."""

from __future__ import annotations

import importlib
from typing import Any

# lazy, so that reading the settings does not import the provider's SDK
_EXPORTS = {
    "SlackInteractivity": "connectors.slack.interactivity",
    "SlackReviewNotifier": "connectors.slack.notifier",
    "SlackSettings": "connectors.slack.settings",
    "slack_signature": "connectors.slack.interactivity",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
