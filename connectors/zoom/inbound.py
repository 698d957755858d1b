"""Zoom webhooks as attendance evidence (https://developers.zoom.us/docs/api/webhooks/).

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
appointment_id = the Zoom meeting id (numeric, the one in the join URL); contact_id = Zoom's
registrant/participant id, never the email; appointment_type "zoom_meeting"; start/end from the meeting (end =
start + duration when absent). On their own these events name no booking (source `zoom` is not an approved
booking source, so the engine counts them as ignored). `connectors.zoom.links.ZoomAttendance` ties them to the
booking whose join URL carries the meeting id, using `fact(request)`: the same event reduced to what attendance
needs, with the participant's email only as a keyed hash.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import (
    PayloadError,
    SecretInbound,
    as_dict,
    clip,
    contact_id_for,
    dict_at,
    digest,
    event_id,
    load_json,
    number_in,
    opt_dt,
    parse_dt,
)
from connectors.signatures import ReplayCache, check_timestamp, constant_time_equals, hmac_sha256_hex, require
from domain.ids import address_key_for
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

IGNORED = frozenset({"meeting.started", "recording.completed"})
FactKind = Literal["joined", "left", "ended"]

ATTENDANCE_EVENTS: dict[str, FactKind] = {"meeting.participant_joined": "joined", "meeting.participant_left": "left",
                                          "meeting.ended": "ended"}


class ZoomFact(BaseModel):
    """One Zoom event reduced to what attendance needs. No name, no email: `email_key` is a keyed hash."""

    kind: FactKind
    meeting_id: str
    session: str  # the meeting occurrence (Zoom's meeting uuid)
    at: datetime  # join, leave or end time
    participant: str | None = None  # opaque key (Zoom participant uuid / registrant id / ...)
    email_key: str | None = None
    is_host: bool = False
    joined_at: datetime | None = None
    left_at: datetime | None = None


class ZoomInbound(SecretInbound):
    """`secret_token` = the Zoom app's Secret Token (env NOSHOW_ZOOM_SECRET_TOKEN), not the Client Secret."""

    name = "zoom"
    secret_label = "a Zoom secret token"
    signature_header = "x-zm-signature"
    timestamp_header = "x-zm-request-timestamp"

    def __init__(self, secret_token: str, tolerance_seconds: float = 300, source: str = "zoom",
                 replay: ReplayCache | None = None) -> None:
        super().__init__(secret_token, tolerance_seconds, source, replay)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request)
        ts_text, ts = self.signed_timestamp(request)
        expected = "v0=" + hmac_sha256_hex(self.secret, f"v0:{ts_text}:".encode() + request.body)
        require(constant_time_equals(expected, given), "bad x-zm-signature")
        check_timestamp(ts, now, self.tolerance)

    def dedupe_key(self, request: RawRequest) -> str | None:
        env = as_dict(load_json(request.body), "body")
        obj = dict_at(dict_at(env, "payload"), "object")
        part = dict_at(obj, "participant")
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
                                      minutes=number_in(minutes, 0, 7 * 24 * 60))
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

    def fact(self, request: RawRequest, salt: str = "noshow") -> ZoomFact | None:
        """The attendance fact in an (authenticated) request, or None for anything that is not a participant
        joining or leaving or a meeting ending. `salt` keys the email hash (the deployment's id salt)."""
        env = as_dict(load_json(request.body), "body")
        kind = ATTENDANCE_EVENTS.get(str(env.get("event") or ""))
        if kind is None:
            return None
        payload = as_dict(env.get("payload"), "payload")
        obj = as_dict(payload.get("object"), "payload.object")
        meeting_id = obj.get("id")
        if meeting_id in (None, "") or isinstance(meeting_id, bool | dict | list):
            raise PayloadError("meeting has no id")
        at = parse_dt(env.get("event_ts"), "event_ts")
        session = clip(obj.get("uuid"), 200) or str(meeting_id)
        if kind == "ended":
            return ZoomFact(kind="ended", meeting_id=str(meeting_id)[:64], session=session,
                            at=opt_dt(obj.get("end_time")) or at)
        part = as_dict(obj.get("participant"), "participant")
        joined_at, left_at = opt_dt(part.get("join_time")), opt_dt(part.get("leave_time"))
        key = next((str(part[k]) for k in ("participant_uuid", "registrant_id", "participant_user_id",
                                           "customer_key", "user_id", "id")
                    if part.get(k) not in (None, "") and not isinstance(part.get(k), bool | dict | list)), None)
        email = part.get("email") if isinstance(part.get("email"), str) and "@" in part.get("email", "") else None
        if key is None and isinstance(part.get("user_name"), str) and part["user_name"]:
            key = address_key_for(f"zoom-name:{part['user_name']}", salt)  # keyed: never the name itself
        host_id = obj.get("host_id")
        is_host = bool(host_id) and host_id in (part.get("id"), part.get("user_id"))
        moment = (left_at if kind == "left" else joined_at) or at
        return ZoomFact(kind=kind, meeting_id=str(meeting_id)[:64], session=session, at=moment,
                        participant=(key or f"anon-{digest(session, moment.isoformat())}")[:200],
                        email_key=address_key_for(email, salt) if email else None, is_host=is_host,
                        joined_at=joined_at, left_at=left_at)

    def _appointment(self, obj: dict[str, Any], at: datetime) -> Appointment:
        meeting_id = obj.get("id")
        if meeting_id in (None, ""):
            raise PayloadError("meeting has no id")
        start = opt_dt(obj.get("start_time")) or at
        # bounded: a huge duration would overflow timedelta (a Zoom meeting lasts at most 30 hours)
        duration = number_in(obj.get("duration"), 0, 7 * 24 * 60) or 0
        end = opt_dt(obj.get("end_time")) or start + timedelta(minutes=duration)
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
