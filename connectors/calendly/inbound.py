"""Calendly webhooks v2: `Calendly-Webhook-Signature: t=<unix s>,v1=<hex>`, v1 = hex HMAC-SHA256(signing key,
f"{t}." + raw body), rejected outside the tolerance (default 180 s, both directions)
(https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures).

Mapping: invitee.created -> booked; invitee.canceled -> cancelled, or rescheduled (no new times; Calendly
creates a new invitee, whose invitee.created arrives separately) when `payload.rescheduled` is true;
invitee_no_show.created -> no_show; invitee_no_show.deleted -> attended (the mark was removed: a correction).
Other Calendly events (routing forms, event types, recaps, contacts) are known and produce nothing.

appointment_id = the invitee URI (per booking and person; what `POST /invitee_no_shows` takes).
The no-show payload shape is UNVERIFIED (Calendly's `GET /sample_webhook_data` returns a sample): both the Invitee
object (with `no_show`) and the InviteeNoShow resource `{uri, invitee, created_at}` are accepted. The second has no
times or contact: start = end = created_at, appointment_type "unknown", contact_id a per-invitee placeholder (the
case keeps what it learned at booking).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import (
    UNKNOWN_TYPE,
    InboundBase,
    PayloadError,
    as_dict,
    clip,
    contact_id_for,
    dict_at,
    dicts_in,
    event_id,
    load_json,
    opt_dt,
    parse_dt,
)
from connectors.signatures import (
    ReplayCache,
    check_timestamp,
    constant_time_equals,
    header,
    hmac_sha256_hex,
    parse_int,
    require,
)
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

SIGNATURE_HEADER = "calendly-webhook-signature"
IGNORED = frozenset({
    "routing_form_submission.created", "event_type.created", "event_type.updated", "event_type.deleted",
    "meeting_recap.created", "meeting_recap.updated", "meeting_recap.deleted", "contact.created",
    "contact.updated", "contact.deleted",
})


def _split_header(value: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in value.split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            parts.setdefault(k.strip(), v.strip())
    return parts


class CalendlyInbound(InboundBase):
    """`signing_key` = the webhook subscription's signing key (env NOSHOW_CALENDLY_SIGNING_KEY)."""

    name = "calendly"

    def __init__(self, signing_key: str, tolerance_seconds: float = 180, source: str = "calendly",
                 replay: ReplayCache | None = None) -> None:
        if not signing_key:
            raise ValueError("a Calendly signing key is required")
        super().__init__(replay)
        self.key = signing_key
        self.tolerance = tolerance_seconds
        self.source = source

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, SIGNATURE_HEADER)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        value = self.signature_value(request)
        require(bool(value), "missing Calendly-Webhook-Signature")
        parts = _split_header(value or "")
        t = parse_int(parts.get("t"), "signature timestamp")
        v1 = parts.get("v1")
        require(bool(v1), "missing v1 signature")
        expected = hmac_sha256_hex(self.key, f"{t}.".encode() + request.body)
        require(constant_time_equals(expected, (v1 or "").lower()), "bad Calendly signature")
        check_timestamp(t, now, self.tolerance)

    def dedupe_key(self, request: RawRequest) -> str | None:
        env = as_dict(load_json(request.body), "body")
        payload = dict_at(env, "payload")
        return f"calendly:{env.get('event', '')}:{payload.get('uri', '')}:{env.get('created_at', '')}"

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        kind = env.get("event")
        if not isinstance(kind, str) or not kind:
            raise PayloadError("missing event")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        if kind in IGNORED:
            return result
        if kind not in ("invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted"):
            result.unknown_types.append(kind)
            return result
        payload = as_dict(env.get("payload"), "payload")
        created = parse_dt(env.get("created_at"), "created_at")
        etype, appt, extra = self._map(kind, payload, created)
        result.events.append(AppointmentEvent(
            event_id=event_id(self.source, dedupe, 0, request.body), type=etype, occurred_at=created,
            appointment=appt, **extra,
        ))
        return result

    def _map(self, kind: str, p: dict[str, Any], created: datetime
             ) -> tuple[EventType, Appointment, dict[str, Any]]:
        if kind == "invitee.created":
            note = "rescheduled from an earlier booking" if p.get("old_invitee") else None
            return EventType.booked, self.appointment(p, created), {"note": note}
        if kind == "invitee.canceled":
            appt = self.appointment(p, created)
            if p.get("rescheduled"):
                sig = AttendanceSignal(kind=SignalKind.reschedule, at=created, source=self.source)
                return EventType.rescheduled, appt, {"signal": sig, "note": "rescheduled to a new booking"}
            cancellation = dict_at(p, "cancellation")
            who = cancellation.get("canceler_type") or "unknown"
            reason = clip(cancellation.get("reason"), 800)
            return EventType.cancelled, appt, {"note": f"cancelled by {who}" + (f": {reason}" if reason else "")}
        if kind == "invitee_no_show.created":
            sig = AttendanceSignal(kind=SignalKind.scheduler_status, at=created, source=self.source,
                                   value="no_show", participant="guest")
            return EventType.no_show, self._no_show_appointment(p, created), {"signal": sig,
                                                                               "note": "marked no-show in Calendly"}
        sig = AttendanceSignal(kind=SignalKind.scheduler_status, at=created, source=self.source,
                               value="attended", participant="guest")
        return EventType.attended, self._no_show_appointment(p, created), {
            "signal": sig, "note": "no-show mark removed in Calendly"}

    def _no_show_appointment(self, p: dict[str, Any], created: datetime) -> Appointment:
        if isinstance(p.get("scheduled_event"), dict):
            return self.appointment(p, created)  # the Invitee object with `no_show` filled in
        invitee = p.get("invitee")
        if isinstance(invitee, dict):
            return self.appointment(invitee, created)
        if not isinstance(invitee, str) or not invitee:
            raise PayloadError("no-show payload names no invitee")
        return Appointment(
            source=self.source, appointment_id=invitee[:200], appointment_type=UNKNOWN_TYPE, start=created,
            end=created, contact=Contact(contact_id=contact_id_for(self.source, None, fallback=invitee)),
        )

    def appointment(self, p: dict[str, Any], created: datetime) -> Appointment:
        uri = p.get("uri")
        if not isinstance(uri, str) or not uri:
            raise PayloadError("invitee has no uri")
        ev = dict_at(p, "scheduled_event")
        start = opt_dt(ev.get("start_time")) or created
        end = opt_dt(ev.get("end_time")) or start
        members = dicts_in(ev.get("event_memberships"))
        owner = members[0].get("user") if members else None
        tracking = dict_at(p, "tracking")
        return Appointment(
            source=self.source,
            appointment_id=uri[:200],
            appointment_type=str(ev.get("name") or UNKNOWN_TYPE)[:100],
            calendar_id=str(ev.get("event_type") or "default")[:200],
            owner_id=str(owner)[:200] if owner else None,
            start=start,
            end=max(start, end),
            campaign=clip(tracking.get("utm_campaign"), 200),
            contact=Contact(
                contact_id=contact_id_for(self.source, p.get("email") if isinstance(p.get("email"), str) else None,
                                          fallback=uri),
                name=clip(p.get("name"), 200),
                email=clip(p.get("email"), 254),
                phone=clip(p.get("text_reminder_number"), 32),
                timezone=clip(p.get("timezone"), 64),
            ),
        )
