"""Acuity Scheduling webhooks (https://developers.acuityscheduling.com/docs/webhooks).

A delivery is an `application/x-www-form-urlencoded` POST with `action`, `id` (the appointment), `calendarID` and
`appointmentTypeID`: a ping naming the appointment, whose details are read with `GET /appointments/{id}` (the
follow-up in workers/providers/acuity.py; `appointment_events` below turns what it reads into events).
Signature: `X-Acuity-Signature` = base64 HMAC-SHA256 of the raw body under the account's API key (the official
Node SDK's `verifyMessageSignature`). Nothing in it is a timestamp or a delivery id, so a captured delivery
stays valid: the replay protection is the dedupe key (action + appointment + the exact body), which the intake
remembers far longer than any retry. A second identical ping (the same appointment rescheduled twice) is
therefore dropped too; the polled source (connectors/acuity/source.py) picks up what it would have said.

`action`: scheduled -> booked; rescheduled -> rescheduled; canceled (also `cancelled`) -> cancelled; changed (a
catch-all Acuity sends for any change, the booking included) -> booked, an upsert the follow-up refines from the
appointment it reads; `order.completed` (packages, gift certificates) is known and ignored. Static webhooks send
the bare action; whether dynamic ones send `appointment.scheduled` is UNVERIFIED, so both forms are accepted.
Which API key signs dynamic webhooks (the creating user's) is UNVERIFIED. Acuity documents no retries.

Appointment (the read): `canceled` with `noShow: true` -> no_show (a no-show is an admin cancellation with the
flag set, https://developers.acuityscheduling.com/reference/put-appointments-id-cancel); `canceled` -> cancelled;
a label named in NOSHOW_ACUITY_NO_SHOW_LABELS / _ATTENDED_LABELS -> no_show / attended (labels are
account-defined: nothing is assumed about their names). The object does not say who cancelled: a cancellation
counts as the client's (the late-cancel window applies). Acuity names no client id: the contact id is a keyed
hash of the email (`acuity:ak-...`), or per appointment without one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from connectors.acuity.client import calendar_key
from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import (
    UNKNOWN_TYPE,
    PayloadError,
    SecretInbound,
    clip,
    contact_id_for,
    event_id,
    opt_dt,
)
from connectors.signatures import ReplayCache, constant_time_equals, hmac_sha256_b64, require
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

SIGNATURE_HEADER = "x-acuity-signature"
ACTIONS = {"scheduled": EventType.booked, "rescheduled": EventType.rescheduled, "canceled": EventType.cancelled,
           "cancelled": EventType.cancelled, "changed": EventType.booked}
IGNORED = frozenset({"order.completed"})


def form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("acuity: the body is not UTF-8") from exc
    parsed = parse_qs(text, keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items() if v}


def action_of(fields: dict[str, str]) -> str:
    return fields.get("action", "").strip().lower().removeprefix("appointment.")


def label_names(appointment: dict[str, Any]) -> set[str]:
    labels = appointment.get("labels")
    names = (str(x.get("name") or "") for x in labels if isinstance(x, dict)) if isinstance(labels, list) else ()
    return {n.strip().lower() for n in names if n.strip()}


class AcuityInbound(SecretInbound):
    """`api_key` = the Acuity API key of the account (env NOSHOW_ACUITY_API_KEY): it signs the webhooks."""

    name = "acuity"
    secret_label = "an Acuity API key"
    signature_header = SIGNATURE_HEADER
    signs_timestamp = False

    def __init__(self, api_key: str, source: str = "acuity", replay: ReplayCache | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(api_key, source=source, replay=replay)
        self.clock = clock

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request).strip()
        require(constant_time_equals(hmac_sha256_b64(self.secret, request.body), given), "bad X-Acuity-Signature")

    def dedupe_key(self, request: RawRequest) -> str | None:
        fields = form(request.body)
        return f"acuity:{action_of(fields)}:{fields.get('id', '')}:{hashlib.sha256(request.body).hexdigest()[:16]}"

    def parse(self, request: RawRequest) -> WebhookResult:
        fields = form(request.body)
        action = action_of(fields)
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        if not action:
            raise PayloadError("acuity: the body names no action")
        if action in IGNORED:
            return result
        if action not in ACTIONS:
            result.unknown_types.append(action[:100])
            return result
        appointment_id = fields.get("id", "").strip()
        if not appointment_id.isdigit():
            raise PayloadError("acuity: the webhook names no appointment id")
        kind, calendar = fields.get("appointmentTypeID", "").strip(), fields.get("calendarID", "").strip()
        # the ping carries no time: it happened about when it arrives; the appointment's own times are
        # placeholders until the follow-up replaces them with the appointment it reads
        at = self.clock()
        appt = Appointment(
            source=self.source, appointment_id=appointment_id,
            appointment_type=f"type-{kind}" if kind.isdigit() else UNKNOWN_TYPE,
            calendar_id=calendar_key(kind, calendar if calendar.isdigit() else None) if kind.isdigit() else "default",
            start=at, end=at, contact=Contact(contact_id=contact_id_for(self.source, None,
                                                                        fallback=f"appointment-{appointment_id}")))
        etype = ACTIONS[action]
        extra: dict[str, Any] = {"note": f"acuity {action}"}
        if etype == EventType.rescheduled:
            extra["signal"] = AttendanceSignal(kind=SignalKind.reschedule, at=at, source=self.source)
        result.events.append(AppointmentEvent(event_id=event_id(self.source, dedupe, 0, request.body), type=etype,
                                              occurred_at=at, appointment=appt, **extra))
        return result


def appointment_of(source: str, a: dict[str, Any]) -> Appointment | None:
    """An Acuity appointment object as the engine's appointment (None when it has no id or time)."""
    appointment_id, start = clip(a.get("id"), 200), opt_dt(a.get("datetime"))
    if not appointment_id or start is None:
        return None
    try:
        minutes = float(str(a.get("duration") or 0))
    except ValueError:
        minutes = 0.0
    minutes = minutes if 0 < minutes < 24 * 60 else 0.0
    email = a.get("email") if isinstance(a.get("email"), str) and a.get("email") else None
    name = " ".join(str(a.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
    kind = str(a.get("appointmentTypeID") or "")
    calendar = str(a.get("calendarID") or "")
    try:
        price = float(str(a.get("price") or 0))
    except ValueError:
        price = 0.0
    return Appointment(
        source=source, appointment_id=appointment_id,
        appointment_type=(clip(a.get("type"), 100) or (f"type-{kind}" if kind else UNKNOWN_TYPE)),
        calendar_id=calendar_key(kind, calendar if calendar.isdigit() else None) if kind.isdigit() else "default",
        owner_id=calendar or None, start=start, end=start + timedelta(minutes=minutes),
        value=price if 0 <= price <= 10_000_000 else 0.0,
        contact=Contact(contact_id=contact_id_for(source, email, fallback=f"appointment-{appointment_id}"),
                        name=clip(name, 200), email=clip(email, 254), phone=clip(a.get("phone"), 32),
                        timezone=clip(a.get("timezone"), 64)),
    )


def appointment_status(a: dict[str, Any], no_show_labels: Iterable[str] = (),
                       attended_labels: Iterable[str] = ()) -> str:
    """active, cancelled, no_show or attended, from `canceled`, `noShow` and the account's labels."""
    labels = label_names(a)
    if a.get("canceled") is True:
        return "no_show" if a.get("noShow") is True else "cancelled"
    if labels & {x.strip().lower() for x in no_show_labels}:
        return "no_show"
    if labels & {x.strip().lower() for x in attended_labels}:
        return "attended"
    return "active"


STATUS_EVENT = {"no_show": EventType.no_show, "cancelled": EventType.cancelled, "attended": EventType.attended}


def appointment_event(event: AppointmentEvent, a: dict[str, Any], source: str, no_show_labels: Iterable[str] = (),
                      attended_labels: Iterable[str] = ()) -> AppointmentEvent:
    """A ping's event with the appointment read from Acuity: its times, type and client, and the type its state
    says (a `changed` ping about a no-show is a no-show)."""
    appt = appointment_of(source, a)
    if appt is None:
        return event
    status = appointment_status(a, no_show_labels, attended_labels)
    update: dict[str, Any] = {"appointment": appt}
    if status in STATUS_EVENT:
        update["type"] = STATUS_EVENT[status]
        value = {"no_show": "no_show", "attended": "attended", "cancelled": "cancelled"}[status]
        kind = SignalKind.cancellation if status == "cancelled" else SignalKind.scheduler_status
        update["signal"] = AttendanceSignal(kind=kind, at=event.occurred_at, source=source, value=value,
                                            participant="guest")
    elif event.type == EventType.rescheduled:
        update["new_start"], update["new_end"] = appt.start, appt.end
    return event.model_copy(update=update)
