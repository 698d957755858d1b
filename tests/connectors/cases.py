"""Conformance cases for the scheduling, calendar, CRM and attendance connectors and the Standard Webhooks
inbound scheme. Test vectors are signatures computed once with each provider's SDK helper or documented algorithm
and frozen with the `now` they were computed at."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta

from connectors.calcom.client import CalcomClient
from connectors.calcom.inbound import CalcomInbound
from connectors.calendly.client import CalendlyClient
from connectors.calendly.inbound import CalendlyInbound
from connectors.contract import RawRequest, WebhookResult
from connectors.google.client import GoogleCalendarClient
from connectors.google.inbound import GoogleCalendarInbound, GoogleChannel, InMemoryChannelStore
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.inbound import HubSpotInbound
from connectors.outlook.client import OutlookClient
from connectors.outlook.inbound import OutlookInbound
from connectors.signatures import hmac_sha256_b64, hmac_sha256_hex
from connectors.standard_webhooks import StandardWebhooksInbound, sign
from connectors.zoom.inbound import ZoomInbound
from domain.models import SignalKind
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase, fixture_json
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeGoogleCalendar, FakeGraph, FakeHubSpot

CAL_SECRET = "calsecret"
CALENDLY_KEY = "calendlykey"
HUBSPOT_SECRET = "hs_client_secret"
HUBSPOT_URL = "https://example.com/webhooks/hubspot"
ZOOM_SECRET = "zoom_secret_token"
STD_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
GRAPH_STATE = "graph-client-state-secret"
VECTOR_TS = 1767603600
VECTOR_NOW = datetime.fromtimestamp(VECTOR_TS, UTC)


def _drop(req: RawRequest, name: str) -> RawRequest:
    return req.model_copy(update={"headers": {k: v for k, v in req.headers.items() if k != name}})


def _set(req: RawRequest, name: str, value: str) -> RawRequest:
    return req.model_copy(update={"headers": {**req.headers, name: value}})


def _post(url: str, headers: dict[str, str], body: bytes, query: dict[str, str] | None = None) -> RawRequest:
    return RawRequest(method="POST", url=url, headers={"content-type": "application/json", **headers}, body=body,
                      query=query or {})


# ------------------------------------------------------------------------------------------------ Cal.com


def calcom_request(body: bytes, at: datetime, secret: str = CAL_SECRET) -> RawRequest:
    return _post("https://example.com/webhooks/calcom", {"x-cal-signature-256": hmac_sha256_hex(secret, body)}, body)


def _calcom_checks(result: WebhookResult) -> None:
    old, new = result.events
    assert old.appointment.appointment_id == "bFJeNb2uX8ANpT3JL5EfXw" and old.new_start is None
    assert new.appointment.appointment_id == "nEwUid9xQ2"
    assert new.appointment.start == datetime(2026, 1, 8, 15, tzinfo=UTC)


def _calcom_guest_no_show(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.signal is not None and event.signal.kind == SignalKind.meeting_join
    assert event.signal.joined is False and event.signal.participant == "guest"
    assert event.appointment.contact.email == "john@example.com"


CALCOM_VECTOR_BODY = (b'{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-01-05T09:00:00.000Z",'
                      b'"payload":{"uid":"bFJeNb2uX8ANpT3JL5EfXw","bookingId":91}}')


def calcom_case() -> InboundCase:
    vector = _post("https://example.com/webhooks/calcom", {
        "x-cal-signature-256": "f854140cd9a8cfd93e46bc5378ca6abd04a6c913ebba5083ad9529b22c43bc34"}, CALCOM_VECTOR_BODY)
    return InboundCase(
        name="calcom", provider="calcom", make=lambda: CalcomInbound(CAL_SECRET),
        sign=calcom_request,
        forge=lambda r: calcom_request(r.body, VECTOR_NOW, "not-the-secret"),
        truncate=lambda r: _set(r, "x-cal-signature-256", r.headers["x-cal-signature-256"][:40]),
        unsign=lambda r: _set(r, "x-cal-signature-256", "no-secret-provided"),
        vector=vector, vector_now=VECTOR_NOW,
        fixtures=[
            FixtureCase("booking_created.json", ["appointment.booked"]),
            FixtureCase("booking_no_show_updated.json", ["appointment.no_show"]),
            FixtureCase("after_guests_cal_video_no_show.json", ["appointment.no_show"], check=_calcom_guest_no_show),
            FixtureCase("after_hosts_cal_video_no_show.json", ["appointment.attendance_signal"]),
            FixtureCase("booking_rescheduled.json", ["appointment.rescheduled", "appointment.booked"],
                        check=_calcom_checks),
            FixtureCase("booking_cancelled.json", ["appointment.cancelled"]),
            FixtureCase("meeting_ended.json", ["appointment.attendance_signal"]),
            FixtureCase("booking_requested.json", []),
            FixtureCase("unknown_trigger.json", [], unknown=["SOMETHING_NEW"]),
        ],
    )


# ------------------------------------------------------------------------------------------------ Calendly


def calendly_request(body: bytes, at: datetime, key: str = CALENDLY_KEY) -> RawRequest:
    t = int(at.timestamp())
    sig = hmac_sha256_hex(key, f"{t}.".encode() + body)
    return _post("https://example.com/webhooks/calendly", {"calendly-webhook-signature": f"t={t},v1={sig}"}, body)


def _calendly_created(result: WebhookResult) -> None:
    (event,) = result.events
    appt = event.appointment
    assert appt.appointment_id == "https://api.calendly.com/scheduled_events/EVT123/invitees/INV456"
    assert appt.contact.phone == "+15551234567" and appt.contact.email == "jane@example.com"
    assert appt.start == datetime(2026, 1, 10, 15, tzinfo=UTC)


def calendly_case() -> InboundCase:
    body = b'{"event":"invitee.created","payload":{"uri":"https://api.calendly.com/scheduled_events/E/invitees/I"}}'
    vector = _post("https://example.com/webhooks/calendly", {"calendly-webhook-signature": (
        f"t={VECTOR_TS},v1=1c8a5fd4f5f4e30ec356e1f6d1f53e90d5b7d83365cf6cd01617b62a32539133")}, body)
    return InboundCase(
        name="calendly", provider="calendly", make=lambda: CalendlyInbound(CALENDLY_KEY),
        sign=calendly_request,
        forge=lambda r: calendly_request(r.body, NOW_OF(r), "wrong-key"),
        truncate=lambda r: _set(r, "calendly-webhook-signature", r.headers["calendly-webhook-signature"][:30]),
        unsign=lambda r: _drop(r, "calendly-webhook-signature"),
        vector=vector, vector_now=VECTOR_NOW, stale_after=timedelta(seconds=180),
        fixtures=[
            FixtureCase("invitee_created.json", ["appointment.booked"], check=_calendly_created),
            FixtureCase("invitee_canceled.json", ["appointment.cancelled"]),
            FixtureCase("invitee_canceled_rescheduled.json", ["appointment.rescheduled"]),
            FixtureCase("invitee_no_show_created.json", ["appointment.no_show"]),
            FixtureCase("invitee_no_show_deleted.json", ["appointment.attended"]),
            FixtureCase("routing_form_submission.json", []),
        ],
    )


def NOW_OF(req: RawRequest) -> datetime:
    """The signing time read back out of a Calendly header."""
    t = re.search(r"t=(\d+)", req.headers.get("calendly-webhook-signature", ""))
    return datetime.fromtimestamp(int(t.group(1)), UTC) if t else VECTOR_NOW


# ------------------------------------------------------------------------------------------------ Google


def google_store() -> InMemoryChannelStore:
    return InMemoryChannelStore([GoogleChannel(channel_id="chan-1", token="tok-secret", calendar_id="ops@example.org")])


def google_request(body: bytes, at: datetime) -> RawRequest:
    headers = fixture_json("google", "notification_exists.json")["headers"]
    return RawRequest(method="POST", url="https://example.com/webhooks/google", headers=dict(headers), body=b"")


def google_case() -> InboundCase:
    return InboundCase(
        name="google", provider="google", make=lambda: GoogleCalendarInbound(google_store()),
        sign=google_request,
        forge=lambda r: _set(r, "x-goog-channel-token", "tok-guess"),
        truncate=lambda r: _set(r, "x-goog-channel-token", "tok"),
        unsign=lambda r: _drop(r, "x-goog-channel-token"),
        body_for=lambda f: b"", tamper_body=False,
        fixtures=[FixtureCase("notification_exists.json", [])],
    )


# ------------------------------------------------------------------------------------------------ Outlook


def outlook_request(body: bytes, at: datetime) -> RawRequest:
    return _post("https://example.com/webhooks/outlook", {}, body)


def _swap_state(req: RawRequest, value: str | None) -> RawRequest:
    text = req.body.decode()
    text = text.replace(f'"clientState": "{GRAPH_STATE}",', "") if value is None else text.replace(GRAPH_STATE, value)
    return req.model_copy(update={"body": text.encode()})


def outlook_case() -> InboundCase:
    return InboundCase(
        name="outlook", provider="outlook", make=lambda: OutlookInbound(GRAPH_STATE),
        sign=outlook_request,
        forge=lambda r: _swap_state(r, "attacker-guess"),
        truncate=lambda r: _swap_state(r, GRAPH_STATE[:8]),
        unsign=lambda r: _swap_state(r, None),
        tamper_body=False,  # Graph signs nothing: only clientState authenticates
        fixtures=[FixtureCase("notification.json", []), FixtureCase("lifecycle_reauthorize.json", [])],
    )


# ------------------------------------------------------------------------------------------------ HubSpot


def hubspot_request(body: bytes, at: datetime, secret: str = HUBSPOT_SECRET) -> RawRequest:
    ts = str(int(at.timestamp() * 1000))
    sig = hmac_sha256_b64(secret, f"POST{HUBSPOT_URL}{body.decode()}{ts}")
    return _post(HUBSPOT_URL, {"x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": ts}, body)


def _hubspot_no_show(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "987654"
    assert event.signal is not None and event.signal.kind == SignalKind.crm_disposition
    assert result.dedupe_key == "hubspot:62515:1001"


def hubspot_case() -> InboundCase:
    body = b'[{"eventId":1,"subscriptionType":"contact.propertyChange","objectId":123}]'
    vector = _post(HUBSPOT_URL, {"x-hubspot-signature-v3": "GiYVgScsZz2bA6y1H4Uy4x0VkwVNp+Bb3Vgm3h1hsVc=",
                                 "x-hubspot-request-timestamp": "1767603600000"}, body)
    return InboundCase(
        name="hubspot", provider="hubspot", make=lambda: HubSpotInbound(HUBSPOT_SECRET),
        sign=hubspot_request,
        forge=lambda r: _set(r, "x-hubspot-signature-v3", hmac_sha256_b64("wrong", r.body)),
        truncate=lambda r: _set(r, "x-hubspot-signature-v3", r.headers["x-hubspot-signature-v3"][:20]),
        unsign=lambda r: _drop(r, "x-hubspot-signature-v3"),
        vector=vector, vector_now=VECTOR_NOW, stale_after=timedelta(minutes=5),
        fixtures=[
            FixtureCase("meeting_outcome_no_show.json", ["appointment.no_show"], check=_hubspot_no_show),
            FixtureCase("contact_property_change.json", [], unknown=["contact.propertyChange"]),
        ],
    )


# ------------------------------------------------------------------------------------------------ Zoom


def zoom_request(body: bytes, at: datetime, secret: str = ZOOM_SECRET) -> RawRequest:
    ts = str(int(at.timestamp()))
    sig = "v0=" + hmac_sha256_hex(secret, f"v0:{ts}:".encode() + body)
    return _post("https://example.com/webhooks/zoom", {"x-zm-signature": sig, "x-zm-request-timestamp": ts}, body)


def _zoom_joined(result: WebhookResult) -> None:
    (event,) = result.events
    sig = event.signal
    assert sig is not None and sig.kind == SignalKind.meeting_join and sig.joined and sig.participant == "guest"
    assert event.appointment.appointment_id == "85012345678"


def _zoom_left(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.signal is not None and event.signal.minutes == 25
    assert event.appointment.contact.contact_id == "zoom:reg-77"


def _zoom_left_documented(result: WebhookResult) -> None:
    # Zoom documents participant_left with leave_time and no join_time: the stay is unknown here, never zero
    (event,) = result.events
    assert event.signal is not None and event.signal.minutes is None and event.signal.joined
    assert event.signal.at == datetime(2026, 1, 6, 15, 2, tzinfo=UTC)


def zoom_case() -> InboundCase:
    body = (b'{"event":"meeting.ended","event_ts":1767603600000,"payload":{"account_id":"A","object":'
            b'{"id":"123","uuid":"u=="}}}')
    vector = _post("https://example.com/webhooks/zoom", {
        "x-zm-signature": "v0=237b8038225c6e9ba1bc73bfbd5ac9c13b9a05b58c1e2da041279a9ba380a8e3",
        "x-zm-request-timestamp": str(VECTOR_TS)}, body)
    return InboundCase(
        name="zoom", provider="zoom", make=lambda: ZoomInbound(ZOOM_SECRET),
        sign=zoom_request,
        forge=lambda r: _set(r, "x-zm-signature", "v0=" + hmac_sha256_hex("wrong", r.body)),
        truncate=lambda r: _set(r, "x-zm-signature", r.headers["x-zm-signature"][:20]),
        unsign=lambda r: _drop(r, "x-zm-signature"),
        vector=vector, vector_now=VECTOR_NOW, stale_after=timedelta(minutes=5),
        fixtures=[
            FixtureCase("participant_joined.json", ["appointment.attendance_signal"], check=_zoom_joined),
            FixtureCase("participant_left.json", ["appointment.attendance_signal"], check=_zoom_left),
            # shape of https://developers.zoom.us/docs/api/meetings/events/#tag/meeting/POST/meeting.participant_left
            FixtureCase("participant_left_documented.json", ["appointment.attendance_signal"],
                        check=_zoom_left_documented),
            FixtureCase("meeting_ended.json", ["appointment.attendance_signal"]),
            FixtureCase("url_validation.json", [], response={
                "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                "encryptedToken": "bd48235863f4a6323ccc4963c594908b7c97f88b4a6a95278f4f093690b12726"}),
            FixtureCase("recording_completed.json", []),
        ],
    )


# ------------------------------------------------------------------------------------------------ Standard Webhooks


def std_request(body: bytes, at: datetime, secret: str = STD_SECRET) -> RawRequest:
    msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:20]
    ts = int(at.timestamp())
    return _post("https://example.com/webhooks/standard", {
        "webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(secret, msg_id, ts, body)}, body)


def std_case() -> InboundCase:
    body = b'{"type":"booking.no_show","timestamp":"2026-01-05T09:00:00Z","data":{"id":"b1"}}'
    vector = _post("https://example.com/webhooks/standard", {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": "v1,pjIgV8gHIHMTOleW9hmw/yTnSXRvrOC87eT3wPMVq4E="}, body)
    other = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0wMTIzNDU2Nzg5"
    return InboundCase(
        name="standard", provider="standard", make=lambda: StandardWebhooksInbound(STD_SECRET),
        sign=std_request,
        forge=lambda r: _set(r, "webhook-signature", sign(other, r.headers["webhook-id"],
                                                          int(r.headers["webhook-timestamp"]), r.body)),
        truncate=lambda r: _set(r, "webhook-signature", r.headers["webhook-signature"][:12]),
        unsign=lambda r: _drop(r, "webhook-signature"),
        vector=vector, vector_now=VECTOR_NOW, stale_after=timedelta(minutes=5),
        fixtures=[
            FixtureCase("no_show.json", ["appointment.no_show"]),
            FixtureCase("unknown_type.json", [], unknown=["booking.no_show"]),
        ],
    )


def inbound_cases() -> list[InboundCase]:
    return [calcom_case(), calendly_case(), google_case(), outlook_case(), hubspot_case(), zoom_case(), std_case()]


# ------------------------------------------------------------------------------------------------ outbound


def outbound_cases() -> list[OutboundCase]:
    day = date(2026, 1, 6)
    start = datetime(2026, 1, 6, 9, tzinfo=UTC)

    def hubspot_fake() -> FakeHubSpot:
        fake = FakeHubSpot()
        fake.objects["contacts"]["501"] = {"properties": {"noshow_recovery_status": "open"}}
        return fake

    return [
        OutboundCase(
            name="calcom", fake=FakeCalcom,
            call=lambda url, t: CalcomClient("cal_test", base_url=url + "/v2", timeout=t).slots(7, day, day),
            path_contains="/v2/slots",
            error_body=lambda s: {"status": "error", "error": {
                "code": "BadRequestException" if s == 400 else "NotFoundException", "message": "x"}},
            expected_code=lambda s: "BadRequestException" if s == 400 else "NotFoundException",
        ),
        OutboundCase(
            name="calendly", fake=FakeCalendly,
            call=lambda url, t: CalendlyClient("tok", base_url=url, timeout=t).mark_no_show(
                "https://api.calendly.com/scheduled_events/EVT123/invitees/INV456"),
            path_contains="/invitee_no_shows",
            error_body=lambda s: {"title": "Invalid Argument" if s == 400 else "Resource Not Found", "message": "x"},
            expected_code=lambda s: "Invalid Argument" if s == 400 else "Resource Not Found",
        ),
        OutboundCase(
            name="google", fake=FakeGoogleCalendar,
            call=lambda url, t: GoogleCalendarClient("ya29.test", base_url=url + "/calendar/v3", timeout=t).free_busy(
                ["ops@example.org"], start, start + timedelta(hours=8)),
            path_contains="/freeBusy",
            error_body=lambda s: {"error": {"errors": [{"domain": "global", "reason":
                                                        "badRequest" if s == 400 else "notFound"}], "code": s}},
            expected_code=lambda s: "badRequest" if s == 400 else "notFound",
        ),
        OutboundCase(
            name="outlook", fake=FakeGraph,
            call=lambda url, t: OutlookClient("eyJ.test", base_url=url + "/v1.0", timeout=t).calendar_view(
                "ops-user-id", start, start + timedelta(hours=8)),
            path_contains="/calendarView",
            error_body=lambda s: {"error": {"code": "ErrorInvalidRequest" if s == 400 else "ErrorItemNotFound",
                                            "message": "x"}},
            expected_code=lambda s: "ErrorInvalidRequest" if s == 400 else "ErrorItemNotFound",
        ),
        OutboundCase(
            name="hubspot", fake=hubspot_fake,
            call=lambda url, t: HubSpotClient("pat-test", base_url=url, timeout=t).get_object(
                "contacts", "501", ["noshow_recovery_status"]),
            path_contains="/crm/v3/objects/contacts/501",
            error_body=lambda s: {"status": "error", "message": "x", "correlationId": "c",
                                  "category": "VALIDATION_ERROR" if s == 400 else "OBJECT_NOT_FOUND"},
            expected_code=lambda s: "VALIDATION_ERROR" if s == 400 else "OBJECT_NOT_FOUND",
        ),
    ]
