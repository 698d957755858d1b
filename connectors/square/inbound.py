"""Square Appointments webhooks: `booking.created` and `booking.updated`
(https://developer.squareup.com/docs/bookings-api/use-webhooks,
https://developer.squareup.com/reference/square/bookings-api/webhooks/booking.updated).

Signature: `x-square-hmacsha256-signature` = base64 HMAC-SHA256 under the subscription's signature key of the
notification URL followed by the raw body (https://developer.squareup.com/docs/webhooks/step3validate; the SDK's
`verify_signature`). The URL is exactly the one on the subscription: NOSHOW_SQUARE_NOTIFICATION_URL when set, else
the public URL the request reached (NOSHOW_PUBLIC_BASE_URL, its path prefix included, + the route). Nothing signed
is a timestamp: "webhooks can be sent more than once", and `event_id` is the dedupe key
(https://developer.squareup.com/docs/webhooks-overview), kept far longer than Square's retries (24 h today; an older
page says 72 h, UNVERIFIED which holds).

`data.object.booking.status` (https://developer.squareup.com/reference/square/enums/BookingStatus):
  ACCEPTED -> booked on `booking.created`; on `booking.updated` -> rescheduled to the booking's own times (a
    reschedule arrives as an update with a new `start_at`, and the update carries no old time: the case moves
    to the times given, which are unchanged when something else was edited);
  NO_SHOW -> no_show (scheduler_status no_show);
  CANCELLED_BY_CUSTOMER -> cancelled with a guest cancellation signal (the late-cancel rule applies);
  CANCELLED_BY_SELLER, DECLINED -> cancelled with a business cancellation signal (never the customer's miss);
  PENDING -> nothing (a request the seller has not accepted); any other status -> unknown_types.
Square has no "attended" status. appointment_id = booking id; contact `square:<customer_id>` (its name, email and
phone are read by the follow-up, workers/providers/square.py); calendar_id `<location_id>:<service_variation_id>`;
owner = team member; type = the service variation id. UNVERIFIED: whether a NO_SHOW set in the Dashboard emits
`booking.updated` to apps without seller-level scopes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import (
    PayloadError,
    SecretInbound,
    as_dict,
    clip,
    contact_id_for,
    dict_at,
    dicts_in,
    event_id,
    load_json,
    number_in,
    opt_dt,
    parse_dt,
)
from connectors.signatures import ReplayCache, constant_time_equals, hmac_sha256_b64, require
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
EVENTS = frozenset({"booking.created", "booking.updated"})
CANCELLED = {"CANCELLED_BY_CUSTOMER": "guest", "CANCELLED_BY_SELLER": "host", "DECLINED": "host"}
KNOWN = frozenset({"ACCEPTED", "NO_SHOW", "PENDING", *CANCELLED})


def calendar_key(location_id: str, service_variation_id: str) -> str:
    return f"{location_id}:{service_variation_id}"


def booking_appointment(source: str, b: dict[str, Any]) -> Appointment | None:
    """A Square booking as the engine's appointment (None without an id or a start)."""
    booking_id, start = clip(b.get("id"), 200), opt_dt(b.get("start_at"))
    if not booking_id or start is None:
        return None
    segments = dicts_in(b.get("appointment_segments"))
    first = segments[0] if segments else {}
    minutes = sum(number_in(s.get("duration_minutes"), 0, 24 * 60) or 0 for s in segments)
    location, service = str(b.get("location_id") or ""), str(first.get("service_variation_id") or "")
    customer = clip(b.get("customer_id"), 100)
    return Appointment(
        source=source, appointment_id=booking_id, appointment_type=(service or "square_booking")[:100],
        calendar_id=calendar_key(location, service) if location and service else "default",
        owner_id=clip(first.get("team_member_id"), 200), location_id=clip(location, 200),
        start=start, end=start + timedelta(minutes=min(minutes, 24 * 60)),
        contact=Contact(contact_id=contact_id_for(source, None, provider_id=customer, fallback=booking_id)),
    )


def status_event(status: str, at: datetime, source: str) -> tuple[EventType, dict[str, Any]] | None:
    """The event a booking status means (None: PENDING or unknown: nothing to act on)."""
    if status == "ACCEPTED":
        return EventType.booked, {}
    if status == "NO_SHOW":
        return EventType.no_show, {"signal": AttendanceSignal(kind=SignalKind.scheduler_status, at=at,
                                                              source=source, value="no_show", participant="guest"),
                                   "note": "marked no-show in Square"}
    if status in CANCELLED:
        who = CANCELLED[status]
        return EventType.cancelled, {"signal": AttendanceSignal(kind=SignalKind.cancellation, at=at, source=source,
                                                                participant=who),
                                     "note": f"{status.lower()} in Square"}
    return None


class SquareInbound(SecretInbound):
    """`signature_key` = the subscription's signature key (env NOSHOW_SQUARE_SIGNATURE_KEY); `notification_url` =
    the URL on the subscription, when it differs from the public URL the request reached."""

    name = "square"
    secret_label = "a Square webhook signature key"
    signature_header = SIGNATURE_HEADER
    signs_timestamp = False

    def __init__(self, signature_key: str, notification_url: str | None = None, source: str = "square",
                 replay: ReplayCache | None = None) -> None:
        super().__init__(signature_key, source=source, replay=replay)
        self.notification_url = notification_url

    def signed_url(self, request: RawRequest) -> str:
        return self.notification_url or request.url

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request).strip()
        expected = hmac_sha256_b64(self.secret, self.signed_url(request).encode() + request.body)
        require(constant_time_equals(expected, given), "bad x-square-hmacsha256-signature")

    def signed_digests(self, request: RawRequest) -> tuple[str, str] | None:
        digest = sha256(self.signed_url(request).encode() + request.body).hexdigest()
        return digest, digest

    def _envelope(self, request: RawRequest) -> dict[str, Any]:
        return as_dict(load_json(request.body), "body")

    def signed_time(self, request: RawRequest) -> datetime | None:
        try:
            return opt_dt(self._envelope(request).get("created_at"))
        except PayloadError:
            return None

    def dedupe_key(self, request: RawRequest) -> str | None:
        event = clip(self._envelope(request).get("event_id"), 100)
        return f"square:{event}" if event else None

    def parse(self, request: RawRequest) -> WebhookResult:
        env = self._envelope(request)
        kind = str(env.get("type") or "")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        if not kind:
            raise PayloadError("square: the notification names no type")
        if kind not in EVENTS:
            result.unknown_types.append(kind[:100])
            return result
        booking = as_dict(dict_at(dict_at(env, "data"), "object").get("booking"), "data.object.booking")
        status = str(booking.get("status") or "")
        if status not in KNOWN:
            result.unknown_types.append(f"{kind}:{status or 'missing status'}"[:100])
            return result
        at = opt_dt(booking.get("updated_at")) or parse_dt(env.get("created_at"), "created_at")
        mapped = status_event(status, at, self.source)
        appt = booking_appointment(self.source, booking)
        if mapped is None:
            return result
        if appt is None:
            raise PayloadError("square: the booking has no id or start_at")
        etype, extra = mapped
        if etype == EventType.booked and kind == "booking.updated":
            etype, extra = EventType.rescheduled, {"new_start": appt.start, "new_end": appt.end}
        result.events.append(AppointmentEvent(event_id=event_id(self.source, dedupe, 0, request.body), type=etype,
                                              occurred_at=at, appointment=appt, **extra))
        return result
