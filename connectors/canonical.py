"""Canonical appointment events from booking forms, phone systems and intake tools, signed with the
Standard Webhooks scheme (integrations.md §12): HMAC-SHA256 over `id.timestamp.body`, ±5 minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.contract import RawRequest, SignatureError, WebhookResult
from domain.models import AppointmentEvent, EventType

TOLERANCE_SECONDS = 300


class WebhookPayloadError(ValueError):
    """A verified request whose body is not a valid canonical event; the message says what is wrong."""


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    timestamp: str | None = None
    data: dict[str, object]


def _keys(secrets: list[str]) -> list[bytes]:
    keys = []
    for secret in secrets:
        raw = secret.removeprefix("whsec_")
        try:
            keys.append(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("a Standard Webhooks secret must be 'whsec_' + base64") from None
    return keys


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = _keys([secret])[0]
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class CanonicalEventsConnector:
    name = "events"

    def __init__(self, secrets: list[str]) -> None:
        # several secrets allow zero-downtime rotation
        self.keys = _keys(secrets)

    def verify(self, request: RawRequest, now: datetime) -> None:
        msg_id = request.headers.get("webhook-id")
        ts_text = request.headers.get("webhook-timestamp")
        sig_header = request.headers.get("webhook-signature")
        if not msg_id or not ts_text or not sig_header:
            raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
        try:
            timestamp = int(ts_text)
        except ValueError:
            raise SignatureError("webhook-timestamp is not an integer") from None
        if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
            raise SignatureError("webhook-timestamp is outside the 5 minute tolerance")
        signed = f"{msg_id}.{timestamp}.".encode() + request.body
        expected = [base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()) for k in self.keys]
        for entry in sig_header.split(" "):
            version, _, sig = entry.partition(",")
            if version != "v1" or not sig:
                continue
            if any(hmac.compare_digest(sig.encode(), e) for e in expected):
                return
        raise SignatureError("no valid v1 signature")

    def parse(self, request: RawRequest) -> WebhookResult:
        try:
            body = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise WebhookPayloadError("body is not valid JSON") from None
        try:
            envelope = _Envelope.model_validate(body)
        except ValidationError as exc:
            raise WebhookPayloadError(_explain(exc)) from None
        data = dict(envelope.data)
        data.setdefault("type", envelope.type)
        data.setdefault("event_id", request.headers.get("webhook-id"))
        if envelope.type not in {t.value for t in EventType}:
            return WebhookResult(dedupe_key=request.headers.get("webhook-id"), unknown_types=[envelope.type])
        try:
            event = AppointmentEvent.model_validate(data)
        except ValidationError as exc:
            raise WebhookPayloadError(_explain(exc)) from None
        return WebhookResult(dedupe_key=request.headers.get("webhook-id"), events=[event])


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
