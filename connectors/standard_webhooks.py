"""Generic inbound scheme for our own canonical events: Standard Webhooks v1 (https://www.standardwebhooks.com/,
spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

Headers `webhook-id`, `webhook-timestamp` (unix seconds), `webhook-signature` (space-separated `v1,<base64>`
entries; any match passes, which allows secret rotation). Signed content `f"{id}.{ts}.{raw body}"`, key =
base64-decoded secret after the `whsec_` prefix; ±5 min tolerance both ways. Several secrets may be
configured (rotation on our side). Body `{"type", "timestamp", "data"}`: `type` is a canonical EventType value
(e.g. "appointment.no_show"), `data` holds AppointmentEvent fields; `event_id` defaults to the webhook-id and
`occurred_at` to the envelope timestamp. Other types are listed in unknown_types. Dedupe key = webhook-id.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, as_dict, load_json
from connectors.signatures import ReplayCache, check_timestamp, constant_time_equals, header, hmac_sha256_b64, parse_int
from domain.models import AppointmentEvent, EventType


def decode_secret(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a Standard Webhooks secret is whsec_<base64>") from exc
    if not key:
        raise ValueError("empty Standard Webhooks secret")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one secret (for senders and tests)."""
    return "v1," + hmac_sha256_b64(decode_secret(secret), f"{msg_id}.{timestamp}.".encode() + body)


class StandardWebhooksInbound(InboundBase):
    """`secrets` = one or more `whsec_...` secrets (env NOSHOW_STANDARD_WEBHOOK_SECRETS, comma-separated)."""

    name = "standard"

    def __init__(self, secrets: str | list[str], tolerance_seconds: float = 300, source: str | None = None,
                 replay: ReplayCache | None = None) -> None:
        values = [secrets] if isinstance(secrets, str) else list(secrets)
        if not values:
            raise ValueError("at least one Standard Webhooks secret is required")
        super().__init__(replay)
        self.keys = [decode_secret(s) for s in values]
        self.tolerance = tolerance_seconds
        self.source = source  # when set, events must name this source (one secret per sending system)

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, "webhook-signature")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        msg_id = header(request.headers, "webhook-id")
        ts_text = header(request.headers, "webhook-timestamp")
        sigs = self.signature_value(request)
        if not msg_id or not sigs:
            raise SignatureError("missing webhook-id or webhook-signature")
        ts = parse_int(ts_text, "webhook-timestamp")
        signed = f"{msg_id}.{ts_text}.".encode() + request.body
        expected = [hmac_sha256_b64(k, signed) for k in self.keys]
        ok = False
        for entry in sigs.split(" "):
            version, _, value = entry.partition(",")
            if version != "v1" or not value:
                continue
            for exp in expected:
                ok = constant_time_equals(exp, value) or ok
        if not ok:
            raise SignatureError("no matching webhook-signature")
        check_timestamp(ts, now, self.tolerance)

    def dedupe_key(self, request: RawRequest) -> str | None:
        msg_id = header(request.headers, "webhook-id")
        return f"standard:{msg_id}" if msg_id else None

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        kind = env.get("type")
        if not isinstance(kind, str) or not kind:
            raise PayloadError("missing type")
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        try:
            etype = EventType(kind)
        except ValueError:
            result.unknown_types.append(kind)
            return result
        data: dict[str, Any] = dict(as_dict(env.get("data"), "data"))
        data["type"] = etype.value
        data.setdefault("event_id", header(request.headers, "webhook-id"))
        data.setdefault("occurred_at", env.get("timestamp"))
        try:
            event = AppointmentEvent.model_validate(data)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise PayloadError("invalid event data: " + ", ".join(fields[:10])) from exc
        if self.source is not None and event.appointment.source != self.source:
            raise PayloadError("event names a source this secret is not for")
        result.events.append(event)
        return result
