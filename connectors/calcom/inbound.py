"""Cal.com webhooks: `X-Cal-Signature-256` = hex HMAC-SHA256(secret, raw body); no timestamp is signed, so
replays are stopped by the replay cache keyed on triggerEvent + booking uid + createdAt
(https://cal.com/docs/developing/guides/automation/webhooks).

Mapping (canonical EventType):
  BOOKING_CREATED -> booked
  BOOKING_RESCHEDULED -> rescheduled for the OLD uid (no new times: Cal.com gives the moved booking a new uid,
      so the old case closes as "rescheduled elsewhere") + booked for the new uid. Without `rescheduleUid`,
      a single rescheduled event carrying new_start/new_end.
  BOOKING_CANCELLED -> cancelled (note says whether the host or the attendee cancelled)
  BOOKING_NO_SHOW_UPDATED -> no_show (any attendee noShow=true) or attended (all unmarked: a correction)
  AFTER_GUESTS_CAL_VIDEO_NO_SHOW -> no_show with a meeting_join signal joined=False participant=guest
  AFTER_HOSTS_CAL_VIDEO_NO_SHOW -> attendance_signal, meeting_join joined=False participant=host
  MEETING_ENDED -> attendance_signal without a signal (fires on schedule, not on real attendance: it only wakes
      the case so the attendance check runs)
  BOOKING_REQUESTED / REJECTED / PAYMENT_INITIATED / PAID, MEETING_STARTED, recordings, forms, OOO: known,
      produce nothing (not a firm appointment or not about attendance).
Defaults where the payload is silent: no-show payloads carry no times -> start = end = createdAt (the case
keeps the times it learned at booking); no event-type slug -> "unknown"; attendees have no id -> contact_id is
a keyed hash of the email (`calcom:ak-...`).
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
from connectors.signatures import ReplayCache, constant_time_equals, header, hmac_sha256_hex, require
from domain.models import (
    Appointment,
    AppointmentEvent,
    AttendanceSignal,
    Contact,
    EventType,
    SignalKind,
)

SIGNATURE_HEADER = "x-cal-signature-256"

IGNORED = frozenset({
    "BOOKING_REQUESTED", "BOOKING_REJECTED", "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID", "MEETING_STARTED",
    "RECORDING_READY", "RECORDING_TRANSCRIPTION_GENERATED", "INSTANT_MEETING", "INSTANT_MEETING_ACCEPTED",
    "OOO_CREATED", "FORM_SUBMITTED", "FORM_SUBMITTED_NO_EVENT", "ROUTING_FORM_FALLBACK_HIT",
    "WRONG_ASSIGNMENT_REPORT", "CALENDAR_ENTRY_REJECTED", "DELEGATION_CREDENTIAL_ERROR",
})


class CalcomInbound(InboundBase):
    """Constructor: `secret` = the webhook secret set on the Cal.com webhook (env NOSHOW_CALCOM_WEBHOOK_SECRET)."""

    name = "calcom"
    signs_timestamp = False  # X-Cal-Signature-256 is an HMAC of the body alone

    def __init__(self, secret: str, source: str = "calcom", replay: ReplayCache | None = None) -> None:
        if not secret:
            raise ValueError("a Cal.com webhook secret is required")
        super().__init__(replay)
        self.secret = secret
        self.source = source

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, SIGNATURE_HEADER)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.signature_value(request)
        require(bool(given), "missing X-Cal-Signature-256")
        require(given != "no-secret-provided", "webhook has no secret configured")
        expected = hmac_sha256_hex(self.secret, request.body)
        require(constant_time_equals(expected, (given or "").strip().lower()), "bad X-Cal-Signature-256")

    def signed_time(self, request: RawRequest) -> datetime | None:
        try:
            return opt_dt(as_dict(load_json(request.body), "body").get("createdAt"))
        except (PayloadError, ValueError):
            return None

    def dedupe_key(self, request: RawRequest) -> str | None:
        env = as_dict(load_json(request.body), "body")
        payload = dict_at(env, "payload")
        uid = payload.get("uid") or payload.get("bookingUid") or payload.get("bookingId") or ""
        return f"calcom:{env.get('triggerEvent', '')}:{uid}:{env.get('createdAt', '')}"

    def parse(self, request: RawRequest) -> WebhookResult:
        ctype = header(request.headers, "content-type") or "application/json"
        if "x-www-form-urlencoded" in ctype:
            raise PayloadError("Cal.com webhooks with a custom non-JSON payload template are not supported")
        env = as_dict(load_json(request.body), "body")
        trigger = env.get("triggerEvent")
        if not isinstance(trigger, str) or not trigger:
            raise PayloadError("missing triggerEvent")
        payload = as_dict(env.get("payload"), "payload")
        created = parse_dt(env.get("createdAt"), "createdAt")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        events = self._map(trigger, payload, created)
        if events is None:
            if trigger not in IGNORED:
                result.unknown_types.append(trigger)
            return result
        for i, (etype, appt, extra) in enumerate(events):
            result.events.append(AppointmentEvent(
                event_id=event_id(self.source, dedupe, i, request.body), type=etype, occurred_at=created,
                appointment=appt, **extra,
            ))
        return result

    # ------------------------------------------------------------------ mapping
    def _map(self, trigger: str, p: dict[str, Any], created: datetime
             ) -> list[tuple[EventType, Appointment, dict[str, Any]]] | None:
        if trigger == "BOOKING_CREATED":
            return [(EventType.booked, self.appointment(p, created), {})]
        if trigger == "BOOKING_RESCHEDULED":
            new = self.appointment(p, created)
            old_uid = p.get("rescheduleUid")
            signal = AttendanceSignal(kind=SignalKind.reschedule, at=created, source=self.source)
            if old_uid and old_uid != new.appointment_id:
                old = self.appointment(p, created, uid=str(old_uid), start=p.get("rescheduleStartTime"),
                                       end=p.get("rescheduleEndTime"))
                return [
                    (EventType.rescheduled, old, {"signal": signal, "note": f"moved to booking {new.appointment_id}"}),
                    (EventType.booked, new, {"note": f"rescheduled from booking {old_uid}"}),
                ]
            return [(EventType.rescheduled, new, {"signal": signal, "new_start": new.start, "new_end": new.end})]
        if trigger == "BOOKING_CANCELLED":
            appt = self.appointment(p, created)
            return [(EventType.cancelled, appt, {"note": self._cancel_note(p)})]
        if trigger == "BOOKING_NO_SHOW_UPDATED":
            attendees = dicts_in(p.get("attendees"))
            appt = self.appointment(p, created)
            absent = any(a.get("noShow") is True for a in attendees)
            if absent:
                sig = AttendanceSignal(kind=SignalKind.scheduler_status, at=created, source=self.source,
                                       value="no_show", participant="guest")
                return [(EventType.no_show, appt, {"signal": sig, "note": "marked absent in Cal.com"})]
            if attendees:
                sig = AttendanceSignal(kind=SignalKind.scheduler_status, at=created, source=self.source,
                                       value="attended", participant="guest")
                return [(EventType.attended, appt, {"signal": sig, "note": "no-show mark removed in Cal.com"})]
            return []
        if trigger in ("AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "AFTER_HOSTS_CAL_VIDEO_NO_SHOW"):
            guest = trigger.startswith("AFTER_GUESTS")
            appt = self.appointment(p, created)
            sig = AttendanceSignal(kind=SignalKind.meeting_join, at=created, source=f"{self.source}_video",
                                   joined=False, minutes=0, participant="guest" if guest else "host")
            etype = EventType.no_show if guest else EventType.attendance_signal
            note = "guest did not join Cal Video" if guest else "host did not join Cal Video"
            return [(etype, appt, {"signal": sig, "note": note})]
        if trigger == "MEETING_ENDED":
            return [(EventType.attendance_signal, self.appointment(p, created),
                     {"note": "scheduled end reached (Cal.com MEETING_ENDED)"})]
        if trigger in IGNORED:
            return None
        return None

    @staticmethod
    def _cancel_note(p: dict[str, Any]) -> str:
        by = p.get("cancelledBy")
        organizer = dict_at(p, "organizer")
        who = "unknown"
        if isinstance(by, str) and by:
            who = "host" if by.lower() == str(organizer.get("email", "")).lower() else "attendee"
        reason = clip(p.get("cancellationReason"), 800)
        return f"cancelled by {who}" + (f": {reason}" if reason else "")

    def appointment(self, p: dict[str, Any], created: datetime, uid: str | None = None,
                    start: Any = None, end: Any = None) -> Appointment:
        booking_uid = uid or p.get("uid") or p.get("bookingUid")
        if not booking_uid:
            raise PayloadError("payload has no booking uid")
        start_at = opt_dt(start if start is not None else p.get("startTime")) or created
        end_at = opt_dt(end if end is not None else p.get("endTime")) or start_at
        organizer = dict_at(p, "organizer")
        event_type = dict_at(p, "eventType")
        appt_type = p.get("type") or event_type.get("slug") or (
            f"event-type-{p.get('eventTypeId') or event_type.get('id')}"
            if (p.get("eventTypeId") or event_type.get("id")) else UNKNOWN_TYPE)
        price = p.get("price")
        return Appointment(
            source=self.source,
            appointment_id=str(booking_uid),
            appointment_type=str(appt_type)[:100],
            calendar_id=str(p.get("eventTypeId") or event_type.get("id") or "default"),
            owner_id=str(organizer["id"]) if organizer.get("id") is not None else None,
            start=start_at,
            end=max(end_at, start_at),
            value=float(price) / 100 if isinstance(price, int | float) and 0 < price < 1e15 else 0.0,
            currency=str(p.get("currency") or "USD")[:3].upper(),
            contact=self.contact(p, str(booking_uid)),
        )

    def contact(self, p: dict[str, Any], booking_uid: str) -> Contact:
        attendees = dicts_in(p.get("attendees"))
        # the no-show payloads list who was absent first; otherwise the first attendee is the booker
        first = next((a for a in attendees if a.get("noShow") is True), attendees[0] if attendees else {})
        email = first.get("email") if isinstance(first.get("email"), str) else None
        language = dict_at(first, "language")
        phone = p.get("smsReminderNumber") or _response_value(p, "attendeePhoneNumber")
        return Contact(
            contact_id=contact_id_for(self.source, email, fallback=booking_uid),
            name=clip(first.get("name"), 200),
            email=clip(email, 254),
            phone=clip(phone, 32),
            timezone=clip(first.get("timeZone"), 64),
            locale=str(language.get("locale") or "en")[:16],
        )


def _response_value(p: dict[str, Any], key: str) -> Any:
    responses = p.get("responses")
    if isinstance(responses, dict) and isinstance(responses.get(key), dict):
        return responses[key].get("value")
    return None


