"""Zendesk and Freshdesk through the conformance kit.

Zendesk signs `timestamp + body` (https://developer.zendesk.com/documentation/webhooks/verifying/); the known-good
vector uses the static secret Zendesk signs test deliveries with and was recomputed with the documented
algorithm. Freshdesk signs nothing: the automation rule's custom header carries a shared token, compared in
constant time (no body tampering or staleness to check). Fixtures and their sources: fixtures/zendesk/SOURCES.md,
fixtures/freshdesk/SOURCES.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.contract import RawRequest, WebhookResult
from connectors.freshdesk.client import FreshdeskClient
from connectors.freshdesk.inbound import FreshdeskInbound
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.inbound import ZendeskInbound
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.freshdesk_fake import FakeFreshdesk, fd_error
from tests.fakes.zendesk_fake import FakeZendesk, sign, zd_error

ZD_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
ZD_SIG, ZD_TS = "x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"
FD_TOKEN, FD_HEADER = "fd-rule-token-5b1e9c0a", "x-noshow-token"


def zendesk_request(body: bytes, at: datetime, secret: str = ZD_SECRET) -> RawRequest:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RawRequest(method="POST", url="https://example.com/webhooks/zendesk", body=body,
                      headers={"content-type": "application/json", ZD_SIG: sign(secret, stamp, body), ZD_TS: stamp,
                               "x-zendesk-webhook-id": "01HZX3F5J8D2"})


def make_zendesk() -> ZendeskInbound:
    return ZendeskInbound(ZD_SECRET)


def freshdesk_request(body: bytes, at: datetime, token: str = FD_TOKEN) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/freshdesk", body=body,
                      headers={"content-type": "application/json", FD_HEADER: token})


def make_freshdesk() -> FreshdeskInbound:
    return FreshdeskInbound(FD_TOKEN)


def _missed(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "APT-20260106-1400"
    assert event.appointment.start == datetime(2026, 1, 6, 14, tzinfo=UTC)
    assert event.appointment.contact.contact_id == "zendesk:381920"
    assert event.appointment.owner_id == "9001"
    assert event.occurred_at == datetime(2026, 1, 6, 14, 20, 5, tzinfo=UTC)


def _cancelled(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "4522"  # no appointment field: the ticket is the appointment
    assert event.appointment.start == datetime(2026, 1, 5, 11, tzinfo=UTC)  # the ticket's creation
    assert event.appointment.owner_id is None  # a blank placeholder is no owner


def _fd_cancelled(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "812"
    assert event.appointment.contact.contact_id == "freshdesk:43001234"
    assert result.dedupe_key == "freshdesk:812:2026-01-06T09:41:27Z:canceled appointment"


def _fd_missed(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "VISIT-5521"
    assert event.appointment.end - event.appointment.start == timedelta(minutes=30)


def inbound_cases() -> list[InboundCase]:
    vector_body = b'{"event":"ticket.updated","id":123}'
    vector = RawRequest(method="POST", url="https://example.com/webhooks/zendesk", body=vector_body,
                        headers={ZD_SIG: "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM=", ZD_TS: "2021-03-25T05:09:27Z"})
    strip = lambda name: lambda r: r.model_copy(  # noqa: E731
        update={"headers": {k: v for k, v in r.headers.items() if k != name}})
    return [
        InboundCase(
            name="zendesk", provider="zendesk", make=make_zendesk, sign=zendesk_request,
            forge=lambda r: zendesk_request(r.body, sent_at(r), "not-the-secret"),
            truncate=lambda r: r.model_copy(update={"headers": {**r.headers, ZD_SIG: r.headers[ZD_SIG][:20]}}),
            unsign=strip(ZD_SIG), vector=vector, vector_now=datetime(2021, 3, 25, 5, 10, tzinfo=UTC),
            stale_after=timedelta(seconds=300),
            fixtures=[FixtureCase("trigger_missed.json", ["appointment.no_show"], check=_missed),
                      FixtureCase("trigger_cancelled.json", ["appointment.cancelled"], check=_cancelled),
                      FixtureCase("trigger_rescheduled.json", ["appointment.rescheduled"]),
                      FixtureCase("trigger_unmapped.json", [], unknown=["ticket.waiting_on_insurance"]),
                      FixtureCase("event_user_active_changed.json", [],
                                  unknown=["zen:event-type:user.active_changed"])]),
        InboundCase(
            name="freshdesk", provider="freshdesk", make=make_freshdesk, sign=freshdesk_request,
            forge=lambda r: freshdesk_request(r.body, datetime.now(UTC), "fd-rule-token-guessed"),
            truncate=lambda r: r.model_copy(update={"headers": {**r.headers, FD_HEADER: r.headers[FD_HEADER][:8]}}),
            unsign=strip(FD_HEADER), tamper_body=False,
            fixtures=[FixtureCase("rule_canceled_appointment.json", ["appointment.cancelled"], check=_fd_cancelled),
                      FixtureCase("rule_missed.json", ["appointment.no_show"], check=_fd_missed),
                      FixtureCase("rule_other_reason.json", [], unknown=["ticket.refund"])]),
    ]


def sent_at(request: RawRequest) -> datetime:
    """The time a signed request says it was sent (a forgery keeps it, so only the secret differs)."""
    return datetime.fromisoformat(request.headers[ZD_TS].replace("Z", "+00:00"))


def outbound_cases() -> list[OutboundCase]:
    return [
        OutboundCase(
            name="zendesk", fake=FakeZendesk,
            call=lambda url, t: ZendeskClient(url, "agent@clinic.example", "zd-token", timeout=t).me(),
            path_contains="/api/v2/users/me.json", error_body=zd_error,
            expected_code=lambda s: "RecordNotFound" if s == 404 else "RecordInvalid"),
        OutboundCase(
            name="freshdesk", fake=FakeFreshdesk,
            call=lambda url, t: FreshdeskClient(url, "fd-key", timeout=t).me(),
            path_contains="/api/v2/agents/me", error_body=fd_error,
            expected_code=lambda s: "404" if s == 404 else "invalid_value"),
    ]
