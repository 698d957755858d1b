"""Square Appointments through the conformance kit. `booking_updated.json` is the documented booking.updated
example (https://developer.squareup.com/reference/square/bookings-api/webhooks/booking.updated); the others are
the same booking with each documented status (https://developer.squareup.com/reference/square/enums/BookingStatus)
and a later `updated_at` / `version`. Requests are signed and the vector checked with the official SDK's helper
(`square.utils.webhooks_helper.verify_signature`, squareup on PyPI); the vector is the SDK's own test case
(square-python-sdk `tests/utilities/test_webhooks_helper.py`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from square.utils.webhooks_helper import verify_signature

from connectors.contract import RawRequest, WebhookResult
from connectors.square.client import SquareClient
from connectors.square.inbound import SquareInbound
from domain.models import SignalKind
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.square_fake import FakeSquare, square_error

KEY = "Ibxx_5AKakO-3qeNVR61Dw"
URL = "https://example.com/webhooks/square"
VECTOR_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
VECTOR_BODY = (b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":'
               b'"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":'
               b'{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}')
VECTOR_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="


def sdk_signature(key: str, url: str, body: bytes) -> str:
    """The header value, checked by the SDK's helper before it is used (the helper only verifies)."""
    value = base64.b64encode(hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()).decode()
    assert verify_signature(request_body=body.decode(), signature_header=value, signature_key=key,
                            notification_url=url)
    return value


def square_request(body: bytes, at: datetime, key: str = KEY, url: str = URL) -> RawRequest:
    return RawRequest(method="POST", url=url, body=body, headers={
        "content-type": "application/json", "x-square-hmacsha256-signature": sdk_signature(key, url, body)})


def _accepted(result: WebhookResult) -> None:
    (event,) = result.events
    appt = event.appointment
    assert (appt.appointment_id, appt.contact.contact_id) == ("i2id2g3enyspi7", "square:SSKBT02ECWZXK6W3VWYC78E52R")
    assert appt.calendar_id == "L9R0X9X5SGDBJ:T3WUWYFJOVW2EU6XGRU5YG4A"
    assert appt.owner_id == "_4GsfYnqGHyurOwzWdKj" and (appt.end - appt.start).total_seconds() == 1800
    assert result.dedupe_key == "square:d954ea4e-a393-52d4-bda6-bfd10cbd571f"
    # an update names only the booking's times as they now stand: the case moves to them
    assert (event.new_start, event.new_end) == (appt.start, appt.end)


def _cancelled_by(participant: str | None) -> object:
    def check(result: WebhookResult) -> None:
        (event,) = result.events
        assert event.signal is not None and event.signal.kind == SignalKind.cancellation
        assert event.signal.participant == participant
    return check


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="square", provider="square", make=lambda: SquareInbound(KEY), sign=square_request,
        forge=lambda r: square_request(r.body, datetime.now(UTC), "another-key"),
        truncate=lambda r: r.model_copy(update={"headers": {
            **r.headers, "x-square-hmacsha256-signature": r.headers["x-square-hmacsha256-signature"][:20]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "x-square-hmacsha256-signature"}}),
        vector=RawRequest(method="POST", url=VECTOR_URL, body=VECTOR_BODY, headers={
            "content-type": "application/json", "x-square-hmacsha256-signature": VECTOR_SIGNATURE}),
        vector_now=datetime(2022, 7, 13, 20, 31, tzinfo=UTC),
        fixtures=[FixtureCase("booking_updated.json", ["appointment.rescheduled"], check=_accepted),
                  FixtureCase("booking_created_pending.json", []),
                  FixtureCase("booking_no_show.json", ["appointment.no_show"]),
                  FixtureCase("booking_cancelled_by_customer.json", ["appointment.cancelled"],
                              check=_cancelled_by("guest")),  # type: ignore[arg-type]
                  FixtureCase("booking_cancelled_by_seller.json", ["appointment.cancelled"],
                              check=_cancelled_by("host")),  # type: ignore[arg-type]
                  FixtureCase("booking_declined.json", ["appointment.cancelled"],
                              check=_cancelled_by("host")),  # type: ignore[arg-type]
                  FixtureCase("booking_unknown_status.json", [], unknown=["booking.updated:WAITLISTED"])],
    )]


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="square", fake=FakeSquare,
        call=lambda url, t: SquareClient("EAAAl-sandbox-token", base_url=url, timeout=t).booking_profile(),
        path_contains="/v2/bookings/business-booking-profile",
        error_body=lambda s: square_error(s, "NOT_FOUND" if s == 404 else "INVALID_VALUE"),
        expected_code=lambda s: "NOT_FOUND" if s == 404 else "INVALID_VALUE",
    )]
