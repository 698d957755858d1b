"""GoHighLevel appointment webhooks (https://marketplace.gohighlevel.com/docs/webhook/AppointmentCreate).

Signature: `x-ghl-signature` = base64 Ed25519 signature over the raw body, verified with the Marketplace app's
public key (PEM SubjectPublicKeyInfo, or the raw 32 bytes in base64), as the official SDK does
(GoHighLevel/highlevel-api-sdk, webhook_manager). The body carries `timestamp` and `webhookId`; GoHighLevel
recommends refusing deliveries older than about five minutes and deduping on `webhookId`
(https://marketplace.gohighlevel.com/docs/oauth/WebhookAuthentication). The legacy RSA `x-wh-signature` is not
accepted (GoHighLevel no longer sends it). UNVERIFIED: the `type` strings of updates and deletions (the vendor
examples show `AppointmentCreate` for all three), and whether `timestamp` is always present.

Mapping (`appointment.appointmentStatus`: new, confirmed, cancelled, showed, noshow, invalid):
  AppointmentCreate -> booked; AppointmentDelete -> cancelled;
  AppointmentUpdate -> no_show (noshow), attended (showed), cancelled (cancelled, invalid), else booked (an
  upsert: the case keeps the times it learns).
appointment_id = appointment id; contact_id = `gohighlevel:<contactId>`; calendar_id = calendarId; owner =
assignedUserId; appointment type "gohighlevel_appointment" (the payload names none).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import (
    InboundBase,
    PayloadError,
    as_dict,
    clip,
    contact_id_for,
    dict_at,
    event_id,
    load_json,
    opt_dt,
    parse_dt,
)
from connectors.signatures import ReplayCache, check_timestamp, header
from domain.models import Appointment, AppointmentEvent, Contact, EventType

K = TypeVar("K", Ed25519PublicKey, Ed25519PrivateKey)

SIGNATURE_HEADER = "x-ghl-signature"
STATUS_EVENT = {"noshow": EventType.no_show, "showed": EventType.attended, "cancelled": EventType.cancelled,
                "invalid": EventType.cancelled}


def _ed25519(text: str, pem: Callable[[bytes], K | None], raw: Callable[[bytes], K], what: str) -> K:
    """An Ed25519 key from a PEM, or from the base64 of its 32 raw bytes (the public key or the private seed)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = pem(text.encode())  # None: a PEM of another key type
        if key is None:
            raise ValueError(f"the GoHighLevel {what} must be an Ed25519 key")
        return key
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 32:
        raise ValueError(f"the GoHighLevel {what} is a PEM or the base64 of 32 raw bytes")
    return raw(decoded)


def load_public_key(text: str) -> Ed25519PublicKey:
    return _ed25519(text, lambda pem: k if isinstance(k := load_pem_public_key(pem), Ed25519PublicKey) else None,
                    Ed25519PublicKey.from_public_bytes, "webhook public key")


def load_private_key(text: str) -> Ed25519PrivateKey:
    """The private half of a test key pair, PEM (PKCS#8) or the base64 of its seed: the demo signs with it."""
    return _ed25519(text, lambda pem: k if isinstance(k := load_pem_private_key(pem, None), Ed25519PrivateKey)
                    else None, Ed25519PrivateKey.from_private_bytes, "demo signing key")


class GoHighLevelInbound(InboundBase):
    name = "gohighlevel"

    def __init__(self, public_key: str, tolerance_seconds: float = 300, source: str = "gohighlevel",
                 replay: ReplayCache | None = None) -> None:
        if not public_key:
            raise ValueError("a GoHighLevel webhook public key is required")
        super().__init__(replay)
        self.key, self.tolerance, self.source = load_public_key(public_key), tolerance_seconds, source

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, SIGNATURE_HEADER)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.signature_value(request) or ""
        try:
            signature = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if len(signature) != 64:
            raise SignatureError("missing or malformed x-ghl-signature")
        try:
            self.key.verify(signature, request.body)
        except InvalidSignature:
            raise SignatureError("bad x-ghl-signature") from None
        # the timestamp is inside the signed body: read only after the signature held
        try:
            stamp = opt_dt(as_dict(load_json(request.body), "body").get("timestamp"))
        except PayloadError:
            stamp = None
        if stamp is not None:
            check_timestamp(stamp.timestamp(), now, self.tolerance)

    def dedupe_key(self, request: RawRequest) -> str | None:
        env = as_dict(load_json(request.body), "body")
        appt = dict_at(env, "appointment")
        hook = env.get("webhookId")
        if hook:
            return f"gohighlevel:{hook}"
        return f"gohighlevel:{env.get('type', '')}:{appt.get('id', '')}:{appt.get('dateUpdated', '')}"

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        kind = env.get("type")
        if not isinstance(kind, str) or not kind:
            raise PayloadError("missing type")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        if kind not in ("AppointmentCreate", "AppointmentUpdate", "AppointmentDelete"):
            result.unknown_types.append(kind[:60])
            return result
        appt = as_dict(env.get("appointment"), "appointment")
        if not appt.get("id"):
            raise PayloadError("appointment has no id")
        status = str(appt.get("appointmentStatus") or "").lower()
        if kind == "AppointmentCreate":
            etype = EventType.booked
        elif kind == "AppointmentDelete":
            etype = EventType.cancelled
        else:
            etype = STATUS_EVENT.get(status, EventType.booked)
        start = parse_dt(appt.get("startTime"), "appointment.startTime")
        end = opt_dt(appt.get("endTime")) or start
        occurred = opt_dt(env.get("timestamp")) or opt_dt(appt.get("dateUpdated")) or start
        appointment = Appointment(
            source=self.source, appointment_id=str(appt["id"])[:200], appointment_type="gohighlevel_appointment",
            calendar_id=clip(appt.get("calendarId"), 200), owner_id=clip(appt.get("assignedUserId"), 200),
            start=start, end=max(start, end),
            contact=Contact(contact_id=contact_id_for(self.source, None, provider_id=clip(appt.get("contactId"), 100),
                                                      fallback=str(appt["id"]))),
        )
        result.events.append(AppointmentEvent(event_id=event_id(self.source, dedupe, 0, request.body), type=etype,
                                              occurred_at=occurred, appointment=appointment,
                                              note=f"GoHighLevel {kind} ({status or 'no status'})"))
        return result
