"""Generic inbound scheme for our own canonical events: Standard Webhooks v1 (https://www.standardwebhooks.com/,
spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

Headers `webhook-id`, `webhook-timestamp` (unix seconds), `webhook-signature` (space-separated `v1,<base64>`
entries; any match passes, which allows secret rotation). Signed content `f"{id}.{ts}.{raw body}"`, key =
base64-decoded secret after the `whsec_` prefix; ±5 min tolerance both ways. Several secrets may be
configured (rotation on our side). A secret may come without base64 padding: the official `standardwebhooks`
SDK pads before decoding (libraries/python/standardwebhooks/webhooks.py in the spec repository), so we do too.
Asymmetric signatures (`v1a,<base64 ed25519 signature>` over the same content) are verified with public keys
given as `whpk_<base64 of the 32-byte key>`, which may be listed next to `whsec_` secrets.

Body `{"type", "timestamp", "data"}`: `type` is a canonical EventType value (e.g. "appointment.no_show"),
`data` holds AppointmentEvent fields; `event_id` defaults to the webhook-id and
`occurred_at` to the envelope timestamp. Other types are listed in unknown_types. Dedupe key = webhook-id.

Phone systems send three more types: `phone.booking` and `phone.cancellation` (an appointment booked or cancelled
on a call: `data` as for `appointment.booked` / `appointment.cancelled`) and `phone.call_missed` (`data`:
`caller`, and optionally `call_id`, `status`, `occurred_at`). The JSON Schema of every type is in
`connectors.event_schemas` (published under docs/schemas/ and at `GET /schemas/events/{type}.json`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from connectors.contract import PhoneCall, RawRequest, SignatureError, WebhookResult
from connectors.event_schemas import MISSED_CALL_TYPE, PHONE_EVENT_TYPES, MissedCallData
from connectors.inbound import InboundBase, PayloadError, as_dict, load_json
from connectors.signatures import ReplayCache, check_timestamp, constant_time_equals, header, hmac_sha256_b64, parse_int
from domain.models import AppointmentEvent, EventType

SYMMETRIC_PREFIX, PUBLIC_PREFIX, PRIVATE_PREFIX = "whsec_", "whpk_", "whsk_"


def _b64(raw: str, what: str) -> bytes:
    """`what` names the expected form in the error (never the value)."""
    text = raw.strip()
    try:
        # padding is optional (the SDK pads too); other characters are refused, not silently dropped
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"a Standard Webhooks {what}") from exc


def decode_secret(secret: str) -> bytes:
    key = _b64(secret.strip().removeprefix(SYMMETRIC_PREFIX), "secret is whsec_<base64>")
    if not key:
        raise ValueError("empty Standard Webhooks secret")
    return key


def decode_public_key(key: str) -> Ed25519PublicKey:
    raw = _b64(key.strip().removeprefix(PUBLIC_PREFIX), "public key is whpk_<base64>")
    if len(raw) != 32:
        raise ValueError("a Standard Webhooks public key (whpk_) holds 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def decode_private_key(key: str) -> Ed25519PrivateKey:
    """`whsk_` + base64 of the 32-byte seed, or of seed + public key (64 bytes, as libsodium writes it)."""
    raw = _b64(key.strip().removeprefix(PRIVATE_PREFIX), "private key is whsk_<base64>")
    if len(raw) not in (32, 64):
        raise ValueError("a Standard Webhooks private key (whsk_) holds 32 or 64 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw[:32])


def public_key_of(private_key: str) -> str:
    raw = decode_private_key(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.b64encode(raw).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one secret (for senders and tests): `v1,...` for a `whsec_`
    secret, `v1a,...` for a `whsk_` private key."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    if secret.strip().startswith(PRIVATE_PREFIX):
        return "v1a," + base64.b64encode(decode_private_key(secret).sign(content)).decode("ascii")
    return "v1," + hmac_sha256_b64(decode_secret(secret), content)


class StandardWebhooksInbound(InboundBase):
    """`secrets` = one or more `whsec_...` secrets and/or `whpk_...` public keys (env NOSHOW_WEBHOOK_SECRET,
    comma-separated)."""

    name = "standard"

    def __init__(self, secrets: str | list[str], tolerance_seconds: float = 300, source: str | None = None,
                 replay: ReplayCache | None = None) -> None:
        values = [secrets] if isinstance(secrets, str) else list(secrets)
        if not values:
            raise ValueError("at least one Standard Webhooks secret is required")
        super().__init__(replay)
        self.keys = [decode_secret(s) for s in values if not s.strip().startswith(PUBLIC_PREFIX)]
        self.public_keys = [decode_public_key(s) for s in values if s.strip().startswith(PUBLIC_PREFIX)]
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
            if not value:
                continue
            if version == "v1":
                for exp in expected:
                    ok = constant_time_equals(exp, value) or ok
            elif version == "v1a" and self.public_keys:
                ok = self._ed25519_matches(value, signed) or ok
        if not ok:
            raise SignatureError("no matching webhook-signature")
        check_timestamp(ts, now, self.tolerance)

    def _ed25519_matches(self, value: str, signed: bytes) -> bool:
        try:
            signature = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        if len(signature) != 64:
            return False
        for key in self.public_keys:
            try:
                key.verify(signature, signed)
                return True
            except InvalidSignature:
                continue
        return False

    def dedupe_key(self, request: RawRequest) -> str | None:
        msg_id = header(request.headers, "webhook-id")
        return f"standard:{msg_id}" if msg_id else None

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        kind = env.get("type")
        if not isinstance(kind, str) or not kind:
            raise PayloadError("missing type")
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if kind == MISSED_CALL_TYPE:
            result.missed_calls.append(self._missed_call(request, env))
            return result
        try:
            etype = EventType(PHONE_EVENT_TYPES.get(kind, kind))
        except ValueError:
            result.unknown_types.append(kind[:100])
            return result
        data: dict[str, Any] = dict(as_dict(env.get("data"), "data"))
        data["type"] = etype.value
        data.setdefault("event_id", header(request.headers, "webhook-id"))
        data.setdefault("occurred_at", env.get("timestamp"))
        try:
            event = AppointmentEvent.model_validate(data)
        except ValidationError as exc:
            raise PayloadError("invalid event data: " + _fields(exc)) from exc
        if self.source is not None and event.appointment.source != self.source:
            raise PayloadError("event names a source this secret is not for")
        result.events.append(event)
        return result

    def _missed_call(self, request: RawRequest, env: dict[str, Any]) -> PhoneCall:
        data: dict[str, Any] = dict(as_dict(env.get("data"), "data"))
        try:
            call = MissedCallData.model_validate(data)
        except ValidationError as exc:
            raise PayloadError("invalid event data: " + _fields(exc)) from exc
        at = call.occurred_at or env.get("timestamp")
        try:
            return PhoneCall(call_id=call.call_id or header(request.headers, "webhook-id") or "", caller=call.caller,
                             at=at, status=call.status, source=self.source or call.source)
        except ValidationError as exc:
            raise PayloadError("invalid event data: " + _fields(exc).replace("at", "occurred_at")) from exc


def _fields(exc: ValidationError) -> str:
    return ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:10])
