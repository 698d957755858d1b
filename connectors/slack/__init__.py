"""Slack: review requests with buttons (SlackReviewNotifier) and signed button clicks (SlackInteractivity)."""

from connectors.slack.interactivity import SlackInteractivity, slack_signature
from connectors.slack.notifier import SlackReviewNotifier, SlackSettings

__all__ = ["SlackInteractivity", "SlackReviewNotifier", "SlackSettings", "slack_signature"]
