"""Airtable through the conformance kit: notification pings signed in `X-Airtable-Content-MAC`
(https://airtable.com/developers/web/api/webhooks-overview) with the test vector in fixtures/airtable/SOURCES.md,
and the REST client's error mapping against the fake base. The ping signs no timestamp, so there is no
staleness case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.airtable.client import AirtableClient
from connectors.airtable.inbound import AirtableInbound, content_mac
from connectors.contract import RawRequest, WebhookResult
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase, fixture_bytes
from tests.fakes.airtable_fake import MAC_SECRET, AirtableFake

BASE, WEBHOOK, TABLE = "app00000000000000", "ach00000000000000", "tblAppointments0"
VECTOR = "hmac-sha256=26a5f8b7a527568ceada248cf2b0c2d7bc6c6e099016532131dc17421d5637fa"


def airtable_request(body: bytes, at: datetime, secret: str = MAC_SECRET) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/airtable", body=body,
                      headers={"content-type": "application/json", "x-airtable-content-mac": content_mac(secret, body)})


def make() -> AirtableInbound:
    return AirtableInbound(MAC_SECRET, BASE, WEBHOOK)


def _syncs(result: WebhookResult) -> None:
    assert result.sync_sources == ["airtable"]
    assert result.dedupe_key == "airtable:ach00000000000000:2022-02-01T21:25:05.663Z"


def _header(r: RawRequest, value: str | None) -> RawRequest:
    headers = {k: v for k, v in r.headers.items() if k != "x-airtable-content-mac"}
    return r.model_copy(update={"headers": headers | ({"x-airtable-content-mac": value} if value else {})})


def inbound_cases() -> list[InboundCase]:
    vector_body = fixture_bytes("airtable", "notification.json")
    return [InboundCase(
        name="airtable", provider="airtable", make=make, sign=airtable_request,
        forge=lambda r: airtable_request(r.body, datetime.now(UTC), "d3Jvbmcgc2VjcmV0"),
        truncate=lambda r: _header(r, r.headers["x-airtable-content-mac"][:30]),
        unsign=lambda r: _header(r, None),
        fixtures=[FixtureCase("notification.json", [], check=_syncs),
                  FixtureCase("notification_other_base.json", [], unknown=["notification.other_webhook"])],
        vector=RawRequest(method="POST", url="https://example.com/webhooks/airtable", body=vector_body,
                          headers={"x-airtable-content-mac": VECTOR}),
        vector_now=datetime(2022, 2, 1, 21, 25, 6, tzinfo=UTC),
    )]


def _airtable_error(status: int) -> Any:
    return {"error": {"type": "INVALID_REQUEST_UNKNOWN" if status == 400 else "NOT_FOUND", "message": "refused"}}


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="airtable", fake=lambda: AirtableFake(BASE, TABLE, WEBHOOK),
        call=lambda url, t: AirtableClient("pat-test", base_url=url, timeout=t).records(BASE, TABLE),
        path_contains=f"/v0/{BASE}/{TABLE}",
        error_body=_airtable_error,
        expected_code=lambda s: "INVALID_REQUEST_UNKNOWN" if s == 400 else "NOT_FOUND",
    )]
