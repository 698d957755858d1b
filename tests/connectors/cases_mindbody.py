"""Mindbody through the conformance kit: Webhooks API deliveries signed `X-Mindbody-Signature` (`sha256=` + base64
HMAC-SHA256 of the body under the subscription's messageSignatureKey; no timestamp is signed), and the v6 client's
error mapping against the fake site (tests/fakes/mindbody_fake.py). Fixtures: fixtures/mindbody/SOURCES.md."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.contract import RawRequest, WebhookResult
from connectors.mindbody.client import MindbodyClient
from connectors.mindbody.inbound import MindbodyInbound
from connectors.signatures import hmac_sha256_b64
from domain.models import SignalKind
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase, fixture_bytes
from tests.fakes.mindbody_fake import FakeMindbody, mb_error

KEY = "/9osqfDc64iJ/2UXj+H1vREFCrrzCSOYGNt9A9bBAWg="
VECTOR_SIGNATURE = "sha256=28irK43PNgb1vIWJuIKrw9A0RKh8sdQ3gVJMzej4rPc="


def mindbody_request(body: bytes, at: datetime, key: str = KEY) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/mindbody", body=body,
                      headers={"content-type": "application/json",
                               "x-mindbody-signature": "sha256=" + hmac_sha256_b64(key, body)})


def _booked(result: WebhookResult) -> None:
    (event,) = result.events
    appointment = event.appointment
    assert appointment.appointment_id == "12345" and appointment.contact.contact_id == "mindbody:100000042"
    assert appointment.start == datetime(2026, 1, 7, 10, tzinfo=UTC)
    assert appointment.calendar_id == "12@1" and appointment.owner_id == "7"
    assert appointment.appointment_type == "session-type-12"  # never the service's name
    assert result.dedupe_key == "mindbody:7Hq2vL9xRkWcYp3aTn5eZd"


def _no_show(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.signal is not None and event.signal.kind == SignalKind.scheduler_status
    assert event.signal.value == "no_show"


def _cancelled(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "12345"
    assert event.signal is not None and event.signal.kind == SignalKind.cancellation


def _late(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "class-visit-880123" and event.appointment.appointment_type == "class"
    assert event.signal is not None and event.signal.at == datetime(2026, 1, 6, 17, 45, tzinfo=UTC)


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="mindbody", provider="mindbody", make=lambda: MindbodyInbound(KEY), sign=mindbody_request,
        forge=lambda r: mindbody_request(r.body, datetime.now(UTC), "not-the-key"),
        truncate=lambda r: r.model_copy(update={"headers": {
            **r.headers, "x-mindbody-signature": r.headers["x-mindbody-signature"][:20]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "x-mindbody-signature"}}),
        vector=RawRequest(method="POST", url="https://example.com/webhooks/mindbody",
                          body=fixture_bytes("mindbody", "appointment_cancelled.json"),
                          headers={"content-type": "application/json", "x-mindbody-signature": VECTOR_SIGNATURE}),
        vector_now=datetime(2026, 1, 5, 14, 0, 5, tzinfo=UTC),
        fixtures=[FixtureCase("appointment_created.json", ["appointment.booked"], check=_booked),
                  FixtureCase("appointment_noshow.json", ["appointment.no_show"], check=_no_show),
                  FixtureCase("appointment_cancelled.json", ["appointment.cancelled"], check=_cancelled),
                  FixtureCase("class_late_cancelled.json", ["appointment.cancelled"], check=_late),
                  FixtureCase("class_missed.json", ["appointment.no_show"]),
                  FixtureCase("class_signed_in.json", ["appointment.attended"]),
                  FixtureCase("client_updated.json", []),
                  FixtureCase("unknown_event.json", [], unknown=["pricingOption.created"])],
    )]


def _client(url: str, timeout: float) -> MindbodyClient:
    return MindbodyClient("mb-api-key", "-99", "owner", "owner-pass", base_url=f"{url}/public/v6", timeout=timeout)


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="mindbody", fake=FakeMindbody,
        call=lambda url, t: _client(url, t).clients(["100000042"]),
        path_contains="/public/v6/client/clients",
        error_body=lambda s: mb_error(s, "InvalidParameter"), expected_code=lambda s: "InvalidParameter",
    )]
