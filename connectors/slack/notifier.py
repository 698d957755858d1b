"""Review requests as Slack messages with Block Kit buttons (chat.postMessage over httpx).

The message carries no PII: the opaque case id, the review reasons and a link to the review page. Slack
has no idempotency key either: the send log keeps the first post per idempotency key, so a retried
activity does not post the same review twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError, RetryableProviderError
from connectors.http import error_from_exception, error_from_response, parse_retry_after
from connectors.settings import secret
from connectors.slack.settings import SlackSettings
from connectors.twilio.sendlog import MemorySendLog, SendLog

SCOPE = "slack"
ACTION_IDS = {"approve": "review_approve", "reject": "review_reject", "edit": "review_edit"}

# Slack answers 200 {"ok": false, "error": ...}; these errors go away on their own
RETRYABLE_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "team_added_to_org"})


def button_value(case_id: str, review_id: str) -> str:
    return json.dumps({"case_id": case_id, "review_id": review_id}, separators=(",", ":"))


def review_blocks(case_id: str, reasons: list[str], review_id: str, link: str | None) -> list[dict[str, Any]]:
    reason_text = "\n".join(f"• {r[:200]}" for r in reasons[:10]) or "• (no reason given)"
    text = f"*Review needed* for case `{case_id}`\n{reason_text}"
    if link:
        text += f"\n<{link}|Open the case>"
    value = button_value(case_id, review_id)

    def button(decision: str, label: str, style: str | None = None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "button", "action_id": ACTION_IDS[decision],
                                   "text": {"type": "plain_text", "text": label}, "value": value}
        if style:
            element["style"] = style
        return element

    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"review:{review_id}"[:255], "elements": [
            button("approve", "Approve", "primary"),
            button("reject", "Reject", "danger"),
            button("edit", "Edit"),
        ]},
    ]


class SlackReviewNotifier:
    """contract.ReviewNotifier. `summary` is not posted: callers may put names in it, Slack keeps history."""

    def __init__(self, settings: SlackSettings, send_log: SendLog | None = None,
                 http: httpx.Client | None = None) -> None:
        if not (secret(settings.bot_token) or "") or not settings.review_channel:
            raise ValueError("Slack needs SLACK_BOT_TOKEN and SLACK_REVIEW_CHANNEL")
        self.settings = settings
        self.send_log: SendLog = send_log or MemorySendLog()
        self._own = http is None
        self.http = http or httpx.Client(timeout=settings.timeout_seconds)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def request_review(self, case_id: str, summary: str, reasons: list[str], idempotency_key: str) -> None:
        self.post_review(case_id, reasons, idempotency_key)

    def post_review(self, case_id: str, reasons: list[str], idempotency_key: str) -> tuple[str, str]:
        """Post once per idempotency key; returns (channel, ts) for chat.update."""
        row = self.send_log.get(SCOPE, idempotency_key)
        if row is not None and row.state == "accepted" and row.provider_message_id:
            return row.extra or self.settings.review_channel, row.provider_message_id
        link = self.settings.review_url_template.format(case_id=case_id) if self.settings.review_url_template \
            else None
        body = {
            "channel": self.settings.review_channel,
            "text": f"Review needed for case {case_id}",  # notification fallback
            "blocks": review_blocks(case_id, reasons, idempotency_key, link),
            "unfurl_links": False,
        }
        self.send_log.begin(SCOPE, idempotency_key, datetime.now(UTC))
        data = self._call("chat.postMessage", body)
        channel, ts = str(data.get("channel") or self.settings.review_channel), str(data.get("ts") or "")
        self.send_log.accept(SCOPE, idempotency_key, ts, "posted", extra=channel)
        return channel, ts

    def post_alert(self, text: str, idempotency_key: str) -> None:
        """A plain message to the review channel (owner alerts, the daily digest), once per key. `text` must hold
        no customer details: Slack keeps history."""
        row = self.send_log.get(SCOPE, idempotency_key)
        if row is not None and row.state == "accepted":
            return
        self.send_log.begin(SCOPE, idempotency_key, datetime.now(UTC))
        data = self._call("chat.postMessage", {"channel": self.settings.review_channel, "text": text,
                                               "unfurl_links": False})
        self.send_log.accept(SCOPE, idempotency_key, str(data.get("ts") or ""), "posted",
                             extra=str(data.get("channel") or self.settings.review_channel))

    def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.settings.api_base_url.rstrip('/')}/{method}"
        headers = {"Authorization": f"Bearer {secret(self.settings.bot_token) or ''}",
                   "Content-Type": "application/json; charset=utf-8"}
        try:
            response = self.http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            # a duplicate review message is harmless (decisions are deduped per case): plain retry
            raise error_from_exception(exc, "slack") from None
        if response.status_code != 200:
            raise error_from_response(response, "slack")
        try:
            data = response.json()
        except ValueError:
            raise RetryableProviderError("slack: non-JSON answer") from None
        if not isinstance(data, dict):
            raise RetryableProviderError("slack: unexpected answer")
        if data.get("ok") is True:
            return data
        error = str(data.get("error") or "unknown_error")
        if error in RETRYABLE_ERRORS:
            raise RetryableProviderError(f"slack: {error}",
                                         retry_after=parse_retry_after(response.headers.get("retry-after")))
        raise PermanentProviderError(f"slack: {error}", code=error)
