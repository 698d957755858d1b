"""The signed SendGrid Event Webhook: a JSON array of delivery and engagement events.

Verified with the SDK's EventWebhook helper (ECDSA P-256 / SHA-256 over timestamp + raw body;
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
SendGrid states no tolerance for the signed timestamp; ours is `SENDGRID_EVENT_TOLERANCE_SECONDS` (default
10 min).
Each event carries our `case_id` / `message_id` custom args. Bounces, drops, spam reports and unsubscribes
are the consent-relevant ones: `consent_effect` tells the consent ledger what to do with each.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook

from connectors.contract import DeliveryStatus, RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, load_json, opt_dt
from connectors.sendgrid.settings import SendGridSettings
from connectors.settings import secret
from connectors.signatures import ReplayCache, check_timestamp, fingerprint, parse_int

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

StatusName = Literal["queued", "sent", "delivered", "failed", "undelivered", "bounced", "dropped", "spam",
                     "unsubscribed", "opened", "read", "clicked"]

# event -> contract status (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event: delivery
# events processed, deferred, delivered, bounce, dropped; engagement events open, click, spamreport, unsubscribe,
# group_unsubscribe, group_resubscribe). A click's `url` is never read: its query may carry the recipient's
# details. group_resubscribe carries nothing the engine acts on.
_STATUS: dict[str, StatusName] = {
    "processed": "queued",
    "deferred": "queued",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "dropped",
    "spamreport": "spam",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
_IGNORED = frozenset({"group_resubscribe"})

ConsentEffect = Literal["revoke", "suppress"]


def consent_effect(status: DeliveryStatus) -> ConsentEffect | None:
    """What a SendGrid status means for the consent ledger (email channel, `status.recipient`):
    "revoke" = the person withdrew consent (unsubscribe, group unsubscribe, spam report, or a drop because the
    address is on an unsubscribe / spam list); "suppress" = the address cannot receive mail (bounce, or a drop
    for a bounced / invalid address); None = nothing to record."""
    if status.status in ("unsubscribed", "spam"):
        return "revoke"
    if status.status == "dropped":
        code = status.error_code or ""
        if "unsubscribed" in code or "spam" in code:
            return "revoke"
        return "suppress"
    if status.status == "bounced":
        # a "blocked" bounce is a temporary refusal by the receiving server, not a dead address
        return None if status.error_code == "bounce:blocked" else "suppress"
    return None


def _token(text: Any) -> str:
    """A short code from free text (SendGrid's drop reasons), so no address can leak into error_code."""
    words = "".join(c.lower() if c.isalnum() else "_" for c in str(text or ""))[:40]
    return "_".join(w for w in words.split("_") if w) or "unknown"


def _error_code(event: dict[str, Any]) -> str | None:
    name = event.get("event")
    if name == "bounce":
        return f"bounce:{_token(event.get('type') or 'bounce')}"
    if name == "dropped":
        return f"dropped:{_token(event.get('reason'))}"
    if name == "group_unsubscribe":
        return f"group_unsubscribe:{event.get('asm_group_id', '')}"
    if name in ("unsubscribe", "spamreport"):
        return str(name)
    return None


class SendGridEventWebhook(InboundBase):
    """contract.InboundConnector for `/webhooks/sendgrid`."""

    name = "sendgrid"

    def __init__(self, settings: SendGridSettings, replay: ReplayCache | None = None) -> None:
        super().__init__(replay)
        key = secret(settings.event_verification_key) or ""
        if not key:
            raise ValueError("the SendGrid Event Webhook needs SENDGRID_EVENT_VERIFICATION_KEY")
        self.settings = settings
        try:
            self._verifier = EventWebhook(public_key=key.strip())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError("SENDGRID_EVENT_VERIFICATION_KEY is not a base64 P-256 public key") from exc

    def signature_value(self, request: RawRequest) -> str | None:
        return request.headers.get(SIGNATURE_HEADER)

    def dedupe_key(self, request: RawRequest) -> str | None:
        """A batch has no id of its own: a digest of its sorted sg_event_ids, so a redelivered batch is
        dropped whole. `event_ids` gives the per-event keys when SendGrid re-batches."""
        ids = self.event_ids(request)
        return f"sendgrid:{fingerprint(*sorted(ids))}" if ids else f"sendgrid:{fingerprint(request.body)}"

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise SignatureError("sendgrid: missing signature headers")
        check_timestamp(parse_int(timestamp, "sendgrid timestamp"), now, self.settings.event_tolerance_seconds)
        try:
            base64.b64decode(signature, validate=True)
            payload = request.body.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise SignatureError("sendgrid: malformed signature or body") from exc
        if not self._verifier.verify_signature(payload, signature, timestamp):
            raise SignatureError("sendgrid: signature mismatch")

    def parse(self, request: RawRequest) -> WebhookResult:
        events = load_json(request.body, "sendgrid: body")
        if not isinstance(events, list):
            raise PayloadError("sendgrid: body is not a JSON array")
        statuses: list[DeliveryStatus] = []
        unknown: list[str] = []
        seen: set[str] = set()
        for event in events:
            if not isinstance(event, dict):
                raise PayloadError("sendgrid: event is not an object")
            event_id = str(event.get("sg_event_id") or "")
            if event_id and event_id in seen:
                continue
            seen.add(event_id)
            name = str(event.get("event") or "")
            status = _STATUS.get(name)
            if status is None:
                if name not in _IGNORED:
                    unknown.append(f"sendgrid:{_token(name)}")
                continue
            at = opt_dt(event.get("timestamp")) or datetime.now(UTC)
            sg_message_id = str(event.get("sg_message_id") or "")
            statuses.append(DeliveryStatus(
                # the X-Message-Id of the send is the part before the first dot
                provider_message_id=sg_message_id.split(".")[0] or str(event.get("sg_event_id") or ""),
                status=status,
                at=at,
                error_code=_error_code(event),
                case_id=_opt_str(event.get("case_id")),
                message_id=_opt_str(event.get("message_id")),
                recipient=_opt_str(event.get("email")),
            ))
        return WebhookResult(dedupe_key=self.dedupe_key(request), statuses=statuses, unknown_types=unknown)

    @staticmethod
    def event_ids(request: RawRequest) -> list[str]:
        """The sg_event_id of every event in the batch, in order: the per-event dedupe keys."""
        events = load_json(request.body, "sendgrid: body")
        if not isinstance(events, list):
            raise PayloadError("sendgrid: body is not a JSON array")
        return [f"sendgrid:{e['sg_event_id']}" for e in events if isinstance(e, dict) and e.get("sg_event_id")]


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
