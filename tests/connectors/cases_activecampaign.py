"""ActiveCampaign through the conformance kit: webhooks authenticated by the secret token in the webhook URL
(ActiveCampaign documents no signature; the token does not cover the body, so the kit's body-tampering and
staleness checks do not apply), and the REST client's error mapping against the fake account. Fixtures and their
sources: fixtures/activecampaign/SOURCES.md."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connectors.activecampaign.client import ActiveCampaignClient
from connectors.activecampaign.inbound import ActiveCampaignInbound
from connectors.contract import RawRequest, WebhookResult
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.activecampaign_fake import FakeActiveCampaign, ac_errors

URL_TOKEN = "ac-url-token-0123456789abcdef"


def ac_request(body: bytes, at: datetime, token: str = URL_TOKEN) -> RawRequest:
    query = {"token": token} if token else {}
    return RawRequest(method="POST", url=f"https://example.com/webhooks/activecampaign?token={token}", body=body,
                      headers={"content-type": "application/x-www-form-urlencoded"}, query=query)


def _missed(result: WebhookResult) -> None:
    (event,) = result.events
    assert event.appointment.appointment_id == "deal-46"
    assert event.appointment.contact.contact_id == "activecampaign:39"
    assert event.appointment.contact.phone == "+15555550142"
    assert event.appointment.contact.name == "Jane Doe"
    assert event.occurred_at == datetime(2026, 1, 6, 9, 31, 2, tzinfo=timezone(timedelta(hours=-6)))


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="activecampaign", provider="activecampaign", make=lambda: ActiveCampaignInbound(URL_TOKEN),
        sign=ac_request, forge=lambda r: ac_request(r.body, datetime.now(), "ac-url-token-guessed-000000"),
        truncate=lambda r: ac_request(r.body, datetime.now(), URL_TOKEN[:12]),
        unsign=lambda r: ac_request(r.body, datetime.now(), ""),
        tamper_body=False,
        fixtures=[FixtureCase("deal_update_missed.txt", ["appointment.no_show"], check=_missed),
                  FixtureCase("deal_update_booked.txt", [], unknown=["deal_update"]),
                  FixtureCase("subscribe.txt", [], unknown=["subscribe"])],
    )]


def _seeded() -> FakeActiveCampaign:
    return FakeActiveCampaign("ac-static")


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="activecampaign", fake=_seeded,
        call=lambda url, t: ActiveCampaignClient("ac-static", url, timeout=t).me(),
        path_contains="/api/3/users/me",
        error_body=lambda s: ac_errors("field_missing" if s == 400 else "not_found", "x"),
        expected_code=lambda s: "field_missing" if s == 400 else "not_found",
    )]
