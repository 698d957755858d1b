"""Outbound email through the official `sendgrid` SDK (v3 Mail Send).

`custom_args` carry our case and message ids: SendGrid echoes them on every Event Webhook event, which is
how a bounce or an unsubscribe finds its case. Mail Send has no idempotency key, so a send log answers a
retried activity with the first receipt; an attempt that ended ambiguously (read timeout, reset after the
request left) is not re-sent blindly: SendGrid offers no lookup by our id without the paid Email Activity
add-on, so by default the retry raises a permanent `ambiguous_send` error: the engine counts that message as
possibly delivered (recorded, never re-sent, never replaced by another channel) rather than risk a duplicate.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
from datetime import UTC, datetime
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from connectors.contract import (
    AmbiguousSendError,
    OutboundMessage,
    PermanentProviderError,
    RetryableProviderError,
    SendReceipt,
)
from connectors.http import parse_retry_after
from connectors.sendgrid.settings import SendGridSettings
from connectors.settings import secret
from connectors.twilio.sendlog import MemorySendLog, SendLog, first_receipt
from domain.models import Channel

SCOPE = "sendgrid"
_FIELD = re.compile(r"[A-Za-z0-9_.\[\]-]{1,80}")


def _retry_after(exc: HTTPError) -> float | None:
    headers = exc.headers
    value = headers.get("Retry-After") if headers is not None else None
    if value is None and headers is not None:
        # SendGrid reports the reset time of its rate-limit window (unix seconds)
        reset = headers.get("X-RateLimit-Reset")
        if reset and reset.isascii() and reset.isdigit() and len(reset) <= 12:  # '²'.isdigit() is true too
            return max(0.0, int(reset) - datetime.now(UTC).timestamp())
    return parse_retry_after(value)


def _first_error_field(exc: HTTPError) -> str | None:
    try:
        body = exc.to_dict
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        field = errors[0].get("field")
        # a field path ("personalizations.0.to.0.email"), never free text: it goes into exception messages
        return str(field) if field and _FIELD.fullmatch(str(field)) else None
    return None


class SendGridChannel:
    """contract.MessageChannel for Channel.email."""

    def __init__(self, settings: SendGridSettings, send_log: SendLog | None = None,
                 client: SendGridAPIClient | None = None) -> None:
        if not (secret(settings.api_key) or "") or not settings.from_email:
            raise ValueError("SendGrid needs SENDGRID_API_KEY and SENDGRID_FROM_EMAIL")
        self.settings = settings
        self.send_log: SendLog = send_log or MemorySendLog()
        self.client = client or SendGridAPIClient((secret(settings.api_key) or ""),
                                                  host=settings.api_host.rstrip("/"))

    def lookup(self, message_id: str) -> SendReceipt | None:
        return first_receipt(self.send_log, SCOPE, message_id, "queued")

    def mail_body(self, message: OutboundMessage) -> dict[str, Any]:
        s = self.settings
        personalization: dict[str, Any] = {
            "to": [{"email": message.to}],
            # string values only; ids, never PII: SendGrid keeps custom args long-term
            "custom_args": {"case_id": message.case_id, "message_id": message.message_id},
        }
        sender: dict[str, str] = {"email": s.from_email}
        if s.from_name:
            sender["name"] = s.from_name
        body: dict[str, Any] = {"personalizations": [personalization], "from": sender, "categories": [s.category]}
        if message.template_id and message.template_id.startswith("d-"):
            body["template_id"] = message.template_id
            personalization["dynamic_template_data"] = {"subject": message.subject or "", "body": message.body}
        else:
            body["subject"] = message.subject or "Your appointment"
            body["content"] = [{"type": "text/plain", "value": message.body}]
        if s.reply_to:
            body["reply_to"] = {"email": s.reply_to}
        if s.asm_group_id is not None:
            body["asm"] = {"group_id": s.asm_group_id}
        return body

    def send(self, message: OutboundMessage) -> SendReceipt:
        if message.channel != Channel.email:
            raise PermanentProviderError(f"SendGrid cannot send {message.channel.value}", code="channel")
        known = self.lookup(message.message_id)
        if known:
            return known
        previous = self.send_log.get(SCOPE, message.message_id)
        if previous is not None and previous.state == "pending" and not self.settings.resend_after_ambiguous:
            raise PermanentProviderError("sendgrid: an earlier attempt may have been accepted; not re-sending",
                                         code="ambiguous_send")
        self.send_log.begin(SCOPE, message.message_id, datetime.now(UTC))
        try:
            response = self.client.client.mail.send.post(request_body=self.mail_body(message),
                                                         timeout=self.settings.timeout_seconds)
        except HTTPError as exc:
            raise self._map_error(message.message_id, exc) from None
        except urllib.error.URLError:
            # urllib wraps failures while connecting and writing the request: SendGrid never answered it
            self.send_log.fail(SCOPE, message.message_id)
            raise RetryableProviderError("sendgrid: connection failed before the request was sent") from None
        except (OSError, http.client.HTTPException) as exc:
            # timeout or reset while waiting for the answer: the mail may be queued
            raise AmbiguousSendError(f"sendgrid: {type(exc).__name__} after sending") from None
        headers = response.headers
        provider_id = (headers.get("X-Message-Id") if headers is not None else None) or f"sg-{message.message_id}"
        self.send_log.accept(SCOPE, message.message_id, provider_id, "queued")
        return SendReceipt(message_id=message.message_id, provider_message_id=provider_id, status="queued")

    def _map_error(self, message_id: str, exc: HTTPError) -> Exception:
        status = int(exc.status_code)
        self.send_log.fail(SCOPE, message_id)  # an HTTP error answer means the mail was not queued
        if status == 429:
            return RetryableProviderError("sendgrid 429: rate limited", retry_after=_retry_after(exc))
        if status >= 500:
            return RetryableProviderError(f"sendgrid {status}", retry_after=_retry_after(exc))
        field = _first_error_field(exc)
        return PermanentProviderError(f"sendgrid {status}" + (f" ({field})" if field else ""),
                                      code=field or str(status))
