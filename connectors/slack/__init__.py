"""Slack: review requests with buttons (SlackReviewNotifier) and signed button clicks (SlackInteractivity)."""

from __future__ import annotations

from connectors.lazy import lazy_exports

_EXPORTS = {
    "SlackInteractivity": "connectors.slack.interactivity",
    "SlackReviewNotifier": "connectors.slack.notifier",
    "SlackSettings": "connectors.slack.settings",
    "slack_signature": "connectors.slack.interactivity",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = sorted(_EXPORTS)
