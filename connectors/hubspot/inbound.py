"""HubSpot webhooks v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256(app client secret, method + uri + raw body
+ timestamp), `X-HubSpot-Request-Timestamp` in milliseconds, rejected when |now - ts| > 5 min (the SDK
only rejects old ones; we reject future ones too). https://developers.hubspot.com/docs/api/webhooks/validating-requests

`uri` must be exactly what HubSpot called; pass the public URL in RawRequest.url. Per HubSpot's rule it is
URL-decoded except for the `?` separator; both the raw and the decoded form are tried.

The body is a JSON array of events. Meeting outcome changes (`hs_meeting_outcome` on a meeting object, via
`meeting.propertyChange` or `object.propertyChange` with objectTypeId 0-47) map to canonical events:
NO_SHOW -> no_show, COMPLETED -> attended, CANCELED -> cancelled, RESCHEDULED -> rescheduled (no new times),
each with a crm_disposition signal. Everything else (contact/deal changes...) is listed in unknown_types.
Defaults: the event carries only the meeting id, so start = end = occurredAt, appointment_type "unknown" and a
per-meeting placeholder contact id (the case keeps what it learned at booking). Whether app webhooks can subscribe
to meetings is UNVERIFIED against https://developers.hubspot.com/docs/api/webhooks; reconciliation covers
meetings either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import (
    UNKNOWN_TYPE,
    PayloadError,
    SecretInbound,
    contact_id_for,
    event_id,
    load_json,
    parse_dt,
)
from connectors.signatures import (
    ReplayCache,
    check_timestamp,
    constant_time_equals,
    fingerprint,
    hmac_sha256_b64,
    require,
)
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind

OUTCOMES = {
    "NO_SHOW": (EventType.no_show, "no_show"),
    "COMPLETED": (EventType.attended, "completed"),
    "CANCELED": (EventType.cancelled, "canceled"),
    "RESCHEDULED": (EventType.rescheduled, "rescheduled"),
}
MEETING_OBJECT_TYPE = "0-47"


def _decode_uri(url: str) -> str:
    base, sep, query = url.partition("?")
    return unquote(base) + sep + unquote(query)


class HubSpotInbound(SecretInbound):
    """`client_secret` = the HubSpot app's client secret (env NOSHOW_HUBSPOT_CLIENT_SECRET), not a
    private-app token."""

    name = "hubspot"
    secret_label = "a HubSpot app client secret"
    signature_header = "x-hubspot-signature-v3"
    timestamp_header = "x-hubspot-request-timestamp"

    def __init__(self, client_secret: str, tolerance_seconds: float = 300, source: str = "hubspot",
                 replay: ReplayCache | None = None) -> None:
        super().__init__(client_secret, tolerance_seconds, source, replay)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request)
        ts_text, ts = self.signed_timestamp(request)  # milliseconds
        body = request.body.decode("utf-8", errors="surrogateescape")
        ok = False
        for uri in dict.fromkeys((request.url, _decode_uri(request.url))):
            expected = hmac_sha256_b64(self.secret, f"{request.method.upper()}{uri}{body}{ts_text}".encode(
                "utf-8", errors="surrogateescape"))
            ok = constant_time_equals(expected, given) or ok
        require(ok, "bad HubSpot signature")
        check_timestamp(ts / 1000, now, self.tolerance)

    def _events(self, request: RawRequest) -> list[dict[str, Any]]:
        body = load_json(request.body)
        if not isinstance(body, list):
            raise PayloadError("HubSpot webhook body is not an array")
        return [e for e in body if isinstance(e, dict)]

    def dedupe_key(self, request: RawRequest) -> str | None:
        pairs = sorted(f"{e.get('portalId', '')}:{e.get('eventId', '')}" for e in self._events(request))
        if len(pairs) == 1:
            return f"hubspot:{pairs[0]}"
        return f"hubspot:batch:{fingerprint(*pairs)}"

    def parse(self, request: RawRequest) -> WebhookResult:
        events = self._events(request)
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        for i, e in enumerate(events):
            sub = str(e.get("subscriptionType") or "")
            is_meeting = sub == "meeting.propertyChange" or (
                sub == "object.propertyChange" and str(e.get("objectTypeId") or "") == MEETING_OBJECT_TYPE)
            outcome = str(e.get("propertyValue") or "").upper()
            if not (is_meeting and e.get("propertyName") == "hs_meeting_outcome"):
                if sub not in result.unknown_types:
                    result.unknown_types.append(sub or "missing subscriptionType")
                continue
            if outcome not in OUTCOMES:
                continue  # SCHEDULED or a portal's custom outcome: nothing to act on
            etype, value = OUTCOMES[outcome]
            at = parse_dt(e.get("occurredAt"), "occurredAt")
            meeting_id = str(e.get("objectId") or "")
            if not meeting_id:
                raise PayloadError("event has no objectId")
            appt = Appointment(
                source=self.source, appointment_id=meeting_id, appointment_type=UNKNOWN_TYPE, start=at, end=at,
                contact=Contact(contact_id=contact_id_for(self.source, None, fallback=f"meeting-{meeting_id}")),
            )
            signal = AttendanceSignal(kind=SignalKind.crm_disposition, at=at, source=self.source, value=value)
            result.events.append(AppointmentEvent(
                event_id=event_id(self.source, f"{e.get('portalId')}:{e.get('eventId')}", i, request.body),
                type=etype, occurred_at=at, appointment=appt, signal=signal,
                note=f"meeting outcome set to {outcome} in HubSpot",
            ))
        return result
