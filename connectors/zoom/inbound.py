"""Zoom webhooks as attendance evidence (integrations.md §11.1).

Signature: `x-zm-signature: v0=<hex HMAC-SHA256(Secret Token, f"v0:{ts}:{raw body}")>` with
`x-zm-request-timestamp` (seconds); Zoom states no window, we apply ±5 min. URL validation
(`endpoint.url_validation`) is answered with {"plainToken", "encryptedToken": hex HMAC(Secret Token,
plainToken)}; Zoom signs that request too, so it goes through the same check.

Mapping (EventType.attendance_signal, SignalKind.meeting_join):
  meeting.participant_joined -> joined=True, minutes=None (the stay is not known yet; the policy sends a bare
      join to review rather than a no-show), participant host/guest by comparing with host_id
  meeting.participant_left -> joined=True, minutes = leave_time - join_time when both are present
  meeting.ended -> participant=host, joined=True, minutes=duration: the meeting happened; it says nothing about
      the guest and only wakes the case (it can also fire when the host leaves alone)
  meeting.started, recording.completed -> known, nothing.
appointment_id = the Zoom meeting id (numeric, the one in the join URL): the lead correlates it with the
booking whose location/join URL carries that id. contact_id = Zoom's registrant/participant id, never the
email; appointment_type "zoom_meeting"; start/end from the meeting (end = start + duration when absent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import (
    InboundBase,
    PayloadError,
    as_dict,
    clip,
    contact_id_for,
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

IGNORED = frozenset({"meeting.started", "recording.completed"})


class ZoomInbound(InboundBase):
    """`secret_token` = the Zoom app's Secret Token (env NOSHOW_ZOOM_SECRET_TOKEN), not the Client Secret."""

    name = "zoom"

    def __init__(self, secret_token: str, tolerance_seconds: float = 300, source: str = "zoom",
                 replay: ReplayCache | None = None) -> None:
        if not secret_token:
            raise ValueError("a Zoom secret token is required")
        super().__init__(replay)
        self.secret = secret_token
        self.tolerance = tolerance_seconds
        self.source = source

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, "x-zm-signature")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.signature_value(request)
        require(bool(given), "missing x-zm-signature")
        ts_text = header(request.headers, "x-zm-request-timestamp")
        ts = parse_int(ts_text, "x-zm-request-timestamp")
        expected = "v0=" + hmac_sha256_hex(self.secret, f"v0:{ts_text}:".encode() + request.body)
        require(constant_time_equals(expected, given), "bad x-zm-signature")
        check_timestamp(ts, now, self.tolerance)

    def dedupe_key(self, request: RawRequest) -> str | None:
        env = as_dict(load_json(request.body), "body")
        obj = (env.get("payload") or {}).get("object") if isinstance(env.get("payload"), dict) else None
        obj = obj if isinstance(obj, dict) else {}
        part = obj.get("participant") if isinstance(obj.get("participant"), dict) else {}
        who = part.get("participant_uuid") or part.get("user_id") or ""
        when = part.get("join_time") or part.get("leave_time") or env.get("event_ts") or ""
        return f"zoom:{env.get('event', '')}:{obj.get('uuid', '')}:{who}:{when}"

    def url_validation_response(self, plain_token: str) -> dict[str, str]:
        return {"plainToken": plain_token, "encryptedToken": hmac_sha256_hex(self.secret, plain_token)}

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        kind = env.get("event")
        if not isinstance(kind, str) or not kind:
            raise PayloadError("missing event")
        payload = as_dict(env.get("payload"), "payload")
        if kind == "endpoint.url_validation":
            token = payload.get("plainToken")
            if not isinstance(token, str) or not token:
                raise PayloadError("url_validation without plainToken")
            return WebhookResult(dedupe_key=None, response=self.url_validation_response(token))
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        if kind in IGNORED:
            return result
        if kind not in ("meeting.participant_joined", "meeting.participant_left", "meeting.ended"):
            result.unknown_types.append(kind)
            return result
        obj = as_dict(payload.get("object"), "payload.object")
        at = parse_dt(env.get("event_ts"), "event_ts")
        appt = self._appointment(obj, at)
        if kind == "meeting.ended":
            minutes = obj.get("duration")
            signal = AttendanceSignal(kind=SignalKind.meeting_join, at=opt_dt(obj.get("end_time")) or at,
                                      source=self.source, joined=True, participant="host",
                                      minutes=float(minutes) if isinstance(minutes, int | float) and minutes >= 0
                                      else None)
            note = "Zoom meeting ended"
        else:
            part = as_dict(obj.get("participant"), "participant")
            joined_at = opt_dt(part.get("join_time"))
            left_at = opt_dt(part.get("leave_time"))
            minutes = None
            if kind == "meeting.participant_left" and joined_at and left_at and left_at >= joined_at:
                minutes = round((left_at - joined_at).total_seconds() / 60, 2)
            is_host = bool(obj.get("host_id")) and obj.get("host_id") in (part.get("id"), part.get("user_id"))
            signal = AttendanceSignal(kind=SignalKind.meeting_join, at=(left_at or joined_at or at),
                                      source=self.source, joined=True, minutes=minutes,
                                      participant="host" if is_host else "guest")
            appt = appt.model_copy(update={"contact": self._contact(part, appt.appointment_id)})
            note = "joined the Zoom meeting" if kind == "meeting.participant_joined" else "left the Zoom meeting"
        result.events.append(AppointmentEvent(
            event_id=event_id(self.source, dedupe, 0, request.body), type=EventType.attendance_signal,
            occurred_at=at, appointment=appt, signal=signal, note=note,
        ))
        return result

    def _appointment(self, obj: dict[str, Any], at: datetime) -> Appointment:
        meeting_id = obj.get("id")
        if meeting_id in (None, ""):
            raise PayloadError("meeting has no id")
        start = opt_dt(obj.get("start_time")) or at
        duration = obj.get("duration") if isinstance(obj.get("duration"), int | float) else 0
        end = opt_dt(obj.get("end_time")) or start + timedelta(minutes=max(0, duration))
        return Appointment(
            source=self.source, appointment_id=str(meeting_id), appointment_type="zoom_meeting",
            owner_id=clip(obj.get("host_id"), 200), start=start, end=max(start, end),
            contact=Contact(contact_id=contact_id_for(self.source, None, fallback=str(meeting_id)),
                            timezone=clip(obj.get("timezone"), 64)),
        )

    def _contact(self, part: dict[str, Any], meeting_id: str) -> Contact:
        provider_id = (part.get("registrant_id") or part.get("participant_user_id") or part.get("customer_key")
                       or part.get("participant_uuid") or part.get("user_id"))
        email = part.get("email") if isinstance(part.get("email"), str) and part.get("email") else None
        return Contact(
            contact_id=contact_id_for(self.source, None, provider_id=str(provider_id) if provider_id else None,
                                      fallback=f"{meeting_id}:{part.get('user_name', '')}"),
            name=clip(part.get("user_name"), 200), email=clip(email, 254), phone=clip(part.get("phone_number"), 32),
        )
