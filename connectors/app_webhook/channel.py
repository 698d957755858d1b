"""Messages for the business's own app (its inbox, its customer app's notifications), delivered as signed
webhooks: Standard Webhooks v1 (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md),
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

`webhook-id` is the message's own id, the same on every attempt and every activity retry: the spec makes it the
receiver's idempotency key, so a delivery whose answer was lost can be sent again and is applied once. Each
attempt is signed with a fresh timestamp (receivers refuse stale ones). 429, 5xx and transport failures are tried
again here (`attempts`, short backoff, `Retry-After` up to 30 s) and then left to the activity's retry policy;
another 4xx is permanent (the step goes by its next channel).

Body: `{"type": "message.created", "timestamp", "data": {"message_id", "case_id", "contact_id", "subject",
"body", "template_id"}}`; `contact_id` is the business's own id for its customer (the source's contact id).

`noshow connectors check --live` sends one `{"type": "noshow.probe", "timestamp", "data": {}}`, signed the same
way with a fresh `probe_` webhook-id: the app verifies it and answers 2xx, showing nothing to anyone. A 401 / 403
means the app refused the signature (the secrets differ).
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime

import httpx

from connectors.app_webhook.settings import AppWebhookSettings
from connectors.contract import OutboundMessage, PermanentProviderError, RetryableProviderError, SendReceipt
from connectors.http import parse_retry_after
from connectors.settings import secret
from connectors.standard_webhooks import decode_secret, sign
from domain.models import Channel

EVENT_TYPE = "message.created"
PROBE_TYPE = "noshow.probe"  # a signed delivery that carries no message: the live check's
MAX_WAIT_SECONDS = 30.0


class AppWebhookChannel:
    """contract.MessageChannel for Channel.app: `message.to` is the contact's id in the business's systems."""

    def __init__(self, settings: AppWebhookSettings, client: httpx.Client | None = None,
                 ) -> None:
        key = secret(settings.secret) or ""
        if not settings.url or not key:
            raise ValueError("the app channel needs APP_WEBHOOK_URL and APP_WEBHOOK_SECRET")
        if not settings.url.startswith(("https://", "http://")):
            raise ValueError("APP_WEBHOOK_URL must be an http(s) URL")
        decode_secret(key)  # a malformed secret fails at start, not at the first send
        self.settings = settings
        self.secret = key
        self.client = client or httpx.Client(timeout=settings.timeout_seconds)

    def body(self, message: OutboundMessage, at: datetime) -> bytes:
        return json.dumps({"type": EVENT_TYPE, "timestamp": at.isoformat(), "data": {
            "message_id": message.message_id, "case_id": message.case_id, "contact_id": message.to,
            "subject": message.subject, "body": message.body, "template_id": message.template_id,
        }}, separators=(",", ":")).encode()

    def lookup(self, message_id: str) -> SendReceipt | None:
        return None  # the app keeps no list to read back: it applies a repeated webhook-id once

    def _post(self, webhook_id: str, body: bytes) -> httpx.Response:
        ts = int(time.time())
        return self.client.post(str(self.settings.url), content=body, headers={
            "content-type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.secret, webhook_id, ts, body)})

    def probe(self) -> int:
        """One signed `noshow.probe` delivery, no retry; the app's HTTP status (transport failures raise)."""
        body = json.dumps({"type": PROBE_TYPE, "timestamp": datetime.now(UTC).isoformat(), "data": {}},
                          separators=(",", ":")).encode()
        return self._post("probe_" + secrets.token_hex(12), body).status_code

    def send(self, message: OutboundMessage) -> SendReceipt:
        if message.channel != Channel.app:
            raise PermanentProviderError(f"the app webhook cannot send {message.channel.value}", code="channel")
        body = self.body(message, datetime.now(UTC))
        last = "no attempt"
        for attempt in range(max(1, self.settings.attempts)):
            wait = min(2.0 ** attempt * 0.2, MAX_WAIT_SECONDS)
            try:
                answer = self._post(message.message_id, body)
            except httpx.HTTPError as exc:
                last = type(exc).__name__  # the type only: messages quote the URL
            else:
                if answer.status_code < 300:
                    return SendReceipt(message_id=message.message_id, provider_message_id=message.message_id,
                                       status="delivered")
                if answer.status_code != 429 and answer.status_code < 500:
                    raise PermanentProviderError(f"app webhook {answer.status_code}", code=str(answer.status_code))
                last = str(answer.status_code)
                after = parse_retry_after(answer.headers.get("retry-after"))
                if after is not None:
                    if after > MAX_WAIT_SECONDS:
                        raise RetryableProviderError(f"app webhook {last}", retry_after=after)
                    wait = after
            if attempt + 1 < self.settings.attempts:
                time.sleep(wait)
        raise RetryableProviderError(f"app webhook: {last} after {self.settings.attempts} attempts")
