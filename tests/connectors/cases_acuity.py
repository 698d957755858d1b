"""Acuity Scheduling through the conformance kit. The fixtures are the form-encoded pings the webhooks page
documents (`action`, `id`, `calendarID`, `appointmentTypeID`: https://developers.acuityscheduling.com/docs/webhooks),
in the static (`scheduled`) and the dynamic (`appointment.rescheduled`) spelling of `action`; `appointment.json`
is the appointment object of the vendor's example (as copied in Pipedream's Acuity source test event). The vector
is computed with the documented scheme (base64 HMAC-SHA256 of the body under the API key) for an invented key."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.acuity.client import AcuityClient
from connectors.acuity.inbound import AcuityInbound
from connectors.contract import RawRequest, WebhookResult
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.acuity_fake import FakeAcuity, acuity_error, acuity_signature

API_KEY, USER_ID = "abc123apikey", "11145481"
VECTOR_BODY = b"action=appointment.scheduled&id=12345&calendarID=27238&appointmentTypeID=1"
VECTOR_SIGNATURE = "uOx6Fqo5qwAQ9Yjggj9smHQxNmLBlGPKR+i0qQZY70c="


def acuity_request(body: bytes, at: datetime, key: str = API_KEY) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/acuity", body=body,
                      headers={"content-type": "application/x-www-form-urlencoded",
                               "x-acuity-signature": acuity_signature(key, body)})


def _scheduled(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "12345"
    assert event.appointment.calendar_id == "1:27238"
    assert result.dedupe_key is not None and result.dedupe_key.startswith("acuity:scheduled:12345:")


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="acuity", provider="acuity", make=lambda: AcuityInbound(API_KEY), sign=acuity_request,
        forge=lambda r: acuity_request(r.body, datetime.now(UTC), "another-key"),
        truncate=lambda r: r.model_copy(update={"headers": {
            **r.headers, "x-acuity-signature": r.headers["x-acuity-signature"][:20]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "x-acuity-signature"}}),
        vector=RawRequest(method="POST", url="https://example.com/webhooks/acuity", body=VECTOR_BODY,
                          headers={"content-type": "application/x-www-form-urlencoded",
                                   "x-acuity-signature": VECTOR_SIGNATURE}),
        vector_now=datetime(2026, 1, 6, 15, 30, tzinfo=UTC),
        fixtures=[FixtureCase("scheduled.txt", ["appointment.booked"], check=_scheduled),
                  FixtureCase("appointment_rescheduled.txt", ["appointment.rescheduled"]),
                  FixtureCase("canceled.txt", ["appointment.cancelled"]),
                  FixtureCase("changed.txt", ["appointment.booked"]),
                  FixtureCase("order_completed.txt", []),
                  FixtureCase("unknown_action.txt", [], unknown=["blocked"])],
    )]


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="acuity", fake=lambda: FakeAcuity(USER_ID, API_KEY),
        call=lambda url, t: AcuityClient(USER_ID, API_KEY, base_url=url, timeout=t).me(),
        path_contains="/me",
        error_body=lambda s: acuity_error(s, "not_found" if s == 404 else "invalid_request"),
        expected_code=lambda s: "not_found" if s == 404 else "invalid_request",
    )]
