"""Mindbody Webhooks API deliveries (https://developers.mindbodyonline.com/WebhooksDocumentation).

Authentication: `X-Mindbody-Signature: sha256=<base64 HMAC-SHA256 of the raw body>` under the subscription's
`messageSignatureKey` (the string as given, not base64-decoded). No timestamp is signed, so the replay cache
and the intake's digest of the body stop a captured delivery. Dedupe key: the envelope's `messageId` (Mindbody
retries a failed delivery and does not promise once-only or ordered delivery).

Envelope: `{"messageId", "eventId", "eventSchemaVersion", "eventInstanceOriginationDateTime", "eventData"}`.

Mapping (canonical EventType):
  appointmentBooking.created -> booked
  appointmentBooking.updated -> by `status` (the v6 AppointmentStatus enum): NoShow -> no_show; Completed,
      Arrived -> attended; Cancelled, LateCancelled -> cancelled (a customer cancellation signal at the event
      time: the engine's late-cancel window decides whether it was late); Requested, Booked, Confirmed, None ->
      rescheduled to the times it carries (they may have moved; unchanged times move nothing)
  appointmentBooking.cancelled -> cancelled (the payload names only `siteId` and `appointmentId`: the case keeps
      the times it learned at booking)
  classRosterBooking.created -> booked; classRosterBooking.cancelled -> cancelled
  classRosterBookingStatus.updated -> by `signedInStatus`: SignedIn -> attended; LateCancelled, EarlyCancelled
      -> cancelled; Missed, NoShow -> no_show; Booked -> booked
  other Mindbody events (clients, sales, memberships, class schedules, add-ons, waitlists): known, nothing.
Appointment ids: an appointment is its `appointmentId`; a class booking is `class-visit-<classRosterBookingId>`,
the poll's visit `Id` (connectors/mindbody/source.py), so a poll and a webhook land on one case. The contact is
`mindbody:<clientId>`; the appointment type is the session type (`session-type-<id>`) or `class`, never the
service's name (a treatment's name is health data for a practice); for a health practice (NOSHOW_MINDBODY_HEALTH)
the client's name is left out too: only ids, times, status and telecom cross.

UNVERIFIED (read in several independent integrations, not on the vendor's page): the signature format (the
`sha256=` prefix and the key used as-is), the event ids, the fields of each event's `eventData`, the
`signedInStatus` values, that `classRosterBookingId` is the visit's id, and that times without an offset are the
site's local time. Mindbody validates the URL with a HEAD request, answered 200 by the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from connectors.signatures import ReplayCache, constant_time_equals, header, hmac_sha256_b64, require
from connectors.sync import SnapshotStatus
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

SIGNATURE_HEADER = "x-mindbody-signature"
SOURCE = "mindbody"

# v6 AppointmentStatus -> what it says about attendance
APPOINTMENT_STATUS: dict[str, SnapshotStatus] = {
    "noshow": "no_show", "completed": "attended", "arrived": "attended", "cancelled": "cancelled",
    "latecancelled": "cancelled", "requested": "active", "booked": "active", "confirmed": "active", "none": "active",
}
SIGNED_IN_STATUS: dict[str, SnapshotStatus] = {
    "signedin": "attended", "latecancelled": "cancelled", "earlycancelled": "cancelled", "missed": "no_show",
    "noshow": "no_show", "booked": "active",
}
SNAPSHOT_EVENT = {"no_show": EventType.no_show, "attended": EventType.attended, "cancelled": EventType.cancelled,
                  "active": EventType.booked}
IGNORED_PREFIXES = ("client.", "clientSale.", "clientMembershipAssignment.", "clientContract.", "class.",
                    "classSchedule.", "classWaitlistRequest.", "appointmentAddOn.", "siteBusinessDayClosure.",
                    "location.", "staff.", "site.")


def norm(value: Any) -> str:
    return str(value or "").strip().lower().replace(" ", "").replace("_", "")


def class_visit_id(visit: Any) -> str:
    return f"class-visit-{visit}"


def site_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """A Mindbody time: site-local when it carries no offset."""
    at = opt_dt(value)
    if at is None:
        return None
    text = str(value)
    has_offset = text.endswith("Z") or "+" in text[10:] or "-" in text[10:]
    return at if has_offset else at.replace(tzinfo=zone).astimezone(UTC)


def mindbody_contact(client_id: Any, fallback: str, first: Any = None, last: Any = None, email: Any = None,
                     phone: Any = None, health: bool = False) -> Contact:
    """`health`: the business is a health practice, so only the contact's telecom crosses, not the name."""
    name = "" if health else " ".join(str(p) for p in (first, last) if p).strip()
    provider_id = clip(client_id, 100)
    return Contact(contact_id=contact_id_for(SOURCE, None, provider_id=provider_id, fallback=fallback),
                   name=clip(name, 200), email=clip(email, 254), phone=clip(phone, 32))


def attendance_signal(status: SnapshotStatus, at: datetime) -> AttendanceSignal | None:
    if status == "cancelled":
        return AttendanceSignal(kind=SignalKind.cancellation, at=at, source=SOURCE, participant="guest")
    if status in ("no_show", "attended"):
        return AttendanceSignal(kind=SignalKind.scheduler_status, at=at, source=SOURCE, value=status,
                                participant="guest")
    return None


class MindbodyInbound(InboundBase):
    """`signature_key`: the subscription's `messageSignatureKey` (env NOSHOW_MINDBODY_SIGNATURE_KEY)."""

    name = SOURCE
    signs_timestamp = False

    def __init__(self, signature_key: str, time_zone: str = "UTC", health: bool = False,
                 replay: ReplayCache | None = None) -> None:
        if not signature_key:
            raise ValueError("a Mindbody messageSignatureKey is required")
        super().__init__(replay)
        self.key = signature_key
        self.zone = ZoneInfo(time_zone)
        self.health = health

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, SIGNATURE_HEADER)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = (self.signature_value(request) or "").strip()
        require(bool(given), "missing X-Mindbody-Signature")
        require(given.startswith("sha256="), "X-Mindbody-Signature is not sha256=")
        expected = hmac_sha256_b64(self.key, request.body)
        require(constant_time_equals(expected, given.removeprefix("sha256=")), "bad X-Mindbody-Signature")

    def signed_time(self, request: RawRequest) -> datetime | None:
        try:
            return opt_dt(as_dict(load_json(request.body), "body").get("eventInstanceOriginationDateTime"))
        except (PayloadError, ValueError):
            return None

    def dedupe_key(self, request: RawRequest) -> str | None:
        message = as_dict(load_json(request.body), "body").get("messageId")
        return f"mindbody:{str(message)[:200]}" if message else None

    def parse(self, request: RawRequest) -> WebhookResult:
        env = as_dict(load_json(request.body), "body")
        kind = env.get("eventId")
        if not isinstance(kind, str) or not kind:
            raise PayloadError("missing eventId")
        data = as_dict(env.get("eventData"), "eventData")
        at = parse_dt(env.get("eventInstanceOriginationDateTime"), "eventInstanceOriginationDateTime")
        dedupe = self.dedupe_key(request)
        result = WebhookResult(dedupe_key=dedupe)
        mapped = self._map(kind, data, at)
        if mapped is None:
            if not kind.startswith(IGNORED_PREFIXES):
                result.unknown_types.append(kind)
            return result
        status, appointment = mapped
        etype, moved = SNAPSHOT_EVENT[status], {}
        if status == "active" and kind == "appointmentBooking.updated":
            # the update carries the times as they now stand, not the old ones: the case moves to them
            etype, moved = EventType.rescheduled, {"new_start": appointment.start, "new_end": appointment.end}
        result.events.append(AppointmentEvent(
            event_id=event_id(SOURCE, dedupe, 0, request.body), type=etype, occurred_at=at,
            appointment=appointment, signal=attendance_signal(status, at), note=f"Mindbody {kind}", **moved))
        return result

    def _map(self, kind: str, d: dict[str, Any], at: datetime) -> tuple[SnapshotStatus, Appointment] | None:
        if kind.startswith("appointmentBooking."):
            if kind.endswith(".created"):
                status: SnapshotStatus = "active"
            elif kind.endswith(".cancelled"):
                status = "cancelled"
            elif kind.endswith(".updated"):
                status = APPOINTMENT_STATUS.get(norm(d.get("status")), "active")
            else:
                return None
            return status, self.appointment(d, at)
        if kind.startswith("classRosterBooking"):
            if kind == "classRosterBooking.created":
                status = "active"
            elif kind == "classRosterBooking.cancelled":
                status = "cancelled"
            elif kind == "classRosterBookingStatus.updated":
                found = SIGNED_IN_STATUS.get(norm(d.get("signedInStatus")))
                if found is None:
                    return None
                status = found
            else:
                return None
            return status, self.class_booking(d, at)
        return None

    def appointment(self, d: dict[str, Any], at: datetime) -> Appointment:
        appointment = d.get("appointmentId")
        if appointment is None or isinstance(appointment, bool | dict | list) or str(appointment) == "":
            raise PayloadError("eventData has no appointmentId")
        start = site_time(d.get("startDateTime"), self.zone) or at
        end = site_time(d.get("endDateTime"), self.zone) or start
        session = clip(d.get("sessionTypeId"), 50)
        location = clip(d.get("locationId"), 50)
        return Appointment(
            source=SOURCE, appointment_id=str(appointment)[:100],
            appointment_type=f"session-type-{session}" if session else "mindbody_appointment",
            calendar_id=f"{session}@{location}" if session and location else location or "default",
            owner_id=clip(d.get("staffId"), 50), start=start, end=max(start, end),
            contact=mindbody_contact(d.get("clientId"), str(appointment), d.get("clientFirstName"),
                                     d.get("clientLastName"), d.get("clientEmail"), d.get("clientPhone"),
                                     health=self.health))

    def class_booking(self, d: dict[str, Any], at: datetime) -> Appointment:
        visit = d.get("classRosterBookingId") or d.get("visitId")
        if visit is None or isinstance(visit, bool | dict | list):
            raise PayloadError("eventData has no classRosterBookingId")
        start = site_time(d.get("classStartDateTime"), self.zone) or at
        end = site_time(d.get("classEndDateTime"), self.zone) or start
        return Appointment(
            source=SOURCE, appointment_id=class_visit_id(visit)[:100], appointment_type="class",
            calendar_id=clip(d.get("locationId"), 50) or "default", owner_id=clip(d.get("staffId"), 50), start=start,
            end=max(start, end),
            contact=mindbody_contact(d.get("clientId"), str(visit), d.get("clientFirstName"), d.get("clientLastName"),
                                     d.get("clientEmail"), d.get("clientPhone"), health=self.health))
