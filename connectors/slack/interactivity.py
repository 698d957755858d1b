"""Signed Slack interactivity payloads (button clicks) -> contract.ReviewAction.

Slack signs `v0:{timestamp}:{raw body}` with the app's signing secret (HMAC-SHA256, hex, `v0=` prefix) and
the timestamp must be within 5 minutes. Slack wants its 200 within 3 s: verify + parse are pure CPU on a
small form body (no I/O), and the API acknowledges before the decision is signalled to the workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast
from urllib.parse import parse_qs

from connectors.contract import RawRequest, ReviewAction, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, dict_at, dicts_in, load_json
from connectors.settings import secret
from connectors.signatures import (
    ReplayCache,
    check_timestamp,
    constant_time_equals,
    hmac_sha256_hex,
    parse_int,
)
from connectors.slack.notifier import ACTION_IDS
from connectors.slack.settings import SlackSettings

_DECISIONS = {action_id: decision for decision, action_id in ACTION_IDS.items()}


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac_sha256_hex(secret, b"v0:" + timestamp.encode() + b":" + body)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        field = form["payload"][0]
    except (UnicodeDecodeError, KeyError, IndexError) as exc:
        raise PayloadError("slack: no JSON `payload` form field") from exc
    payload = load_json(field, "slack: `payload` form field")
    if not isinstance(payload, dict):
        raise PayloadError("slack: payload is not an object")
    return payload


class SlackInteractivity(InboundBase):
    """contract.InboundConnector for `/webhooks/slack` (the app's Interactivity Request URL)."""

    name = "slack"

    def __init__(self, settings: SlackSettings, replay: ReplayCache | None = None) -> None:
        # a replay is only possible inside the timestamp window: remember signatures a little longer
        super().__init__(replay or ReplayCache(ttl_seconds=2 * settings.tolerance_seconds + 60))
        if not (secret(settings.signing_secret) or ""):
            raise ValueError("Slack interactivity needs SLACK_SIGNING_SECRET")
        self.settings = settings

    def signature_value(self, request: RawRequest) -> str | None:
        return request.headers.get("x-slack-signature")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        signature = request.headers.get("x-slack-signature")
        timestamp = request.headers.get("x-slack-request-timestamp")
        if not signature or not timestamp:
            raise SignatureError("slack: missing signature headers")
        check_timestamp(parse_int(timestamp, "slack timestamp"), now, self.settings.tolerance_seconds)
        expected = slack_signature((secret(self.settings.signing_secret) or ""), timestamp.strip(), request.body)
        if not constant_time_equals(expected, signature.strip()):
            raise SignatureError("slack: signature mismatch")

    def dedupe_key(self, request: RawRequest) -> str | None:
        payload = _payload(request.body)
        action = (dicts_in(payload.get("actions")) or [{}])[0]
        container = payload.get("container") or {}
        user = payload.get("user") or {}
        if not isinstance(container, dict) or not isinstance(user, dict):
            return None
        return ":".join(["slack", str(container.get("message_ts", "")), str(action.get("action_id", "")),
                         str(action.get("action_ts", "")), str(user.get("id", ""))])

    def parse(self, request: RawRequest) -> WebhookResult:
        payload = _payload(request.body)
        kind = str(payload.get("type") or "")
        if kind != "block_actions":
            return WebhookResult(dedupe_key=self.dedupe_key(request), unknown_types=[f"slack:{kind[:40] or 'none'}"])
        user = dict_at(payload, "user")
        user_id = str(user.get("id") or "")
        if not user_id:
            raise PayloadError("slack: no user in payload")
        username = user.get("username") or user.get("name")
        reviewer = f"slack:{user_id}" + (f" ({username})" if username else "")
        actions: list[ReviewAction] = []
        unknown: list[str] = []
        for action in dicts_in(payload.get("actions")):
            decision = _DECISIONS.get(str(action.get("action_id") or ""))
            if decision is None:
                unknown.append(f"slack:action:{str(action.get('action_id'))[:40]}")
                continue
            try:
                value = load_json(str(action.get("value") or ""), "slack: button value")
                case_id = str(value["case_id"])
                review_id = str(value.get("review_id")) if value.get("review_id") else None
            except (PayloadError, KeyError, TypeError) as exc:
                raise PayloadError("slack: button value is not ours") from exc
            actions.append(ReviewAction(
                case_id=case_id,
                decision=cast(Literal["approve", "reject", "edit"], decision),
                reviewer=reviewer,
                review_id=review_id,
            ))
        # an empty 200 acknowledges; the original message is updated later through chat.update / response_url
        return WebhookResult(dedupe_key=self.dedupe_key(request), review_actions=actions, unknown_types=unknown)
