"""Jobber through the conformance kit: webhooks signed with `X-Jobber-Hmac-SHA256` (base64 HMAC-SHA256 of the raw
body under the app's client secret; nothing signed carries a time, so there is no staleness check), our test
vector, and the GraphQL client's error mapping against the fake account. Fixtures: fixtures/jobber/SOURCES.md."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.contract import RawRequest, WebhookResult
from connectors.jobber.client import JobberClient
from connectors.jobber.inbound import JobberInbound
from connectors.signatures import hmac_sha256_b64
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase, fixture_bytes
from tests.fakes.jobber_fake import FakeJobber

SECRET = "test_client_secret_123"
VECTOR_SIGNATURE = "m+ZG0FnB2hWzsatbNY6qT7QrksqrXwsLGodmuS1d87E="


def jobber_request(body: bytes, at: datetime, secret: str = SECRET) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/jobber", body=body,
                      headers={"content-type": "application/json",
                               "x-jobber-hmac-sha256": hmac_sha256_b64(secret, body)})


def make() -> JobberInbound:
    return JobberInbound(SECRET)


def _syncs(result: WebhookResult) -> None:
    assert result.sync_sources == ["jobber"] and result.dedupe_key is not None
    assert result.dedupe_key.startswith("jobber:acct_123:")


def _deleted(result: WebhookResult) -> None:
    """A deleted visit is its cancellation, at the delivery's `occuredAt`; the poll is asked for as well."""
    _syncs(result)
    [event] = result.events
    assert event.appointment.appointment_id == "Z2lkOi8vSm9iYmVyL1Zpc2l0LzEyMzQ1"
    assert event.occurred_at == datetime(2026, 1, 6, 15, 10, tzinfo=UTC)


def inbound_cases() -> list[InboundCase]:
    vector = RawRequest(method="POST", url="https://example.com/webhooks/jobber",
                        body=fixture_bytes("jobber", "visit_complete.json"),
                        headers={"content-type": "application/json", "x-jobber-hmac-sha256": VECTOR_SIGNATURE})
    return [InboundCase(
        name="jobber", provider="jobber", make=make, sign=jobber_request,
        forge=lambda r: jobber_request(r.body, datetime.now(UTC), "guessed-secret"),
        truncate=lambda r: r.model_copy(update={"headers": {**r.headers, "x-jobber-hmac-sha256":
                                                            r.headers["x-jobber-hmac-sha256"][:20]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "x-jobber-hmac-sha256"}}),
        vector=vector, vector_now=datetime(2025, 1, 15, 17, 30, tzinfo=UTC),
        fixtures=[FixtureCase("visit_complete.json", [], check=_syncs),
                  FixtureCase("visit_update.json", [], check=_syncs),
                  FixtureCase("visit_destroy.json", ["appointment.cancelled"], check=_deleted),
                  FixtureCase("job_update.json", [], check=_syncs),
                  FixtureCase("invoice_create.json", [], unknown=["INVOICE_CREATE"])],
    )]


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="jobber", fake=lambda: FakeJobber(access_token="jobber-static"),
        call=lambda url, t: JobberClient("jobber-static", api_url=url + "/api/graphql", timeout=t).account(),
        path_contains="/api/graphql",
        error_body=lambda s: {"message": "refused"},
        expected_code=lambda s: str(s),
    )]
