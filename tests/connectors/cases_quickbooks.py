"""QuickBooks Online through the conformance kit: webhooks signed with `intuit-signature` (base64 HMAC-SHA256 of
the raw body with the verifier token; Intuit signs no time), with the computed vector over the documented legacy
body, and the Accounting API client's error mapping against the fake company. Fixtures and their sources:
fixtures/quickbooks/SOURCES.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from connectors.contract import RawRequest, WebhookResult
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.inbound import QuickBooksWebhook
from tests.connectors.kit import NOW, FixtureCase, InboundCase, OutboundCase, fixture_bytes
from tests.fakes.quickbooks_fake import FakeQuickBooks, fault

VERIFIER = "d4b5c8e1-verifier"
REALM = "193514525151214"


def sign(body: bytes, token: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def quickbooks_request(body: bytes, at: datetime, signature: str | None = None) -> RawRequest:
    headers = {"content-type": "application/json", "intuit-signature": signature or sign(body)}
    return RawRequest(method="POST", url="https://example.com/webhooks/quickbooks", headers=headers, body=body)


def _sync(result: WebhookResult) -> None:
    assert result.sync_sources == ["quickbooks"] and result.events == []


def inbound_cases() -> list[InboundCase]:
    vector = RawRequest(method="POST", url="https://example.com/webhooks/quickbooks",
                        headers={"intuit-signature": "qtglWi0kPtriI6B+JyKfBBRSXlknjGYtiS/rsb5Xjrw="},
                        body=fixture_bytes("quickbooks", "invoice_update.json"))
    return [InboundCase(
        name="quickbooks", provider="quickbooks", make=lambda: QuickBooksWebhook(VERIFIER, realm_id=REALM),
        sign=quickbooks_request,
        forge=lambda r: quickbooks_request(r.body, NOW, sign(r.body, "guessed")),
        truncate=lambda r: quickbooks_request(r.body, NOW, r.headers["intuit-signature"][:10]),
        unsign=lambda r: r.model_copy(update={"headers": {"content-type": "application/json"}}),
        vector=vector, vector_now=datetime(2017, 4, 16, 6, 18, 10, tzinfo=UTC),
        fixtures=[FixtureCase("invoice_update.json", [], check=_sync),
                  FixtureCase("invoice_void.json", [], unknown=["Customer.Update"], check=_sync),
                  FixtureCase("cloudevents_invoice.json", [], check=_sync),
                  FixtureCase("cloudevents_customer.json", [], unknown=["customer.created"])],
    )]


ACCESS = "eyJqb-static-access"


def outbound_cases() -> list[OutboundCase]:
    # an access token already held: the kit's failures are meant for the API call, not the token endpoint
    return [OutboundCase(
        name="quickbooks", fake=lambda: FakeQuickBooks(access_token=ACCESS),
        call=lambda url, t: QuickBooksClient(ACCESS, "9130357766900456", base_url=f"{url}/v3",
                                             timeout=t).company_info(), path_contains="/companyinfo/9130357766900456",
        error_body=lambda s: fault("610" if s == 400 else "404", "Object Not Found" if s == 400 else "Not Found"),
        expected_code=lambda s: "610" if s == 400 else "404",
    )]
