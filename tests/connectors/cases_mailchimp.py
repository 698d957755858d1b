"""Mailchimp through the conformance kit: audience webhooks authenticated by the secret in their URL (Mailchimp
signs nothing, so the kit's body-tampering and staleness checks do not apply), and the Marketing API client's
error mapping against the fake account. Fixtures and their sources: fixtures/mailchimp/SOURCES.md."""

from __future__ import annotations

from datetime import datetime

from connectors.contract import RawRequest, WebhookResult
from connectors.mailchimp.client import MailchimpClient
from connectors.mailchimp.inbound import MailchimpWebhook
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.mailchimp_fake import FakeMailchimp, problem

SECRET = "mc-hook-7f3a9d1c2b8e4f60a5d7c3e1b9f2a4d6"
KEY = "0123456789abcdef0123456789abcdef-us6"


def mailchimp_request(body: bytes, at: datetime, secret: str | None = SECRET) -> RawRequest:
    query = {"secret": secret} if secret is not None else {}
    url = "https://example.com/webhooks/mailchimp" + (f"?secret={secret}" if secret is not None else "")
    return RawRequest(method="POST", url=url, query=query, body=body,
                      headers={"content-type": "application/x-www-form-urlencoded"})


def _opted_out(address: str, reason: str) -> object:
    def check(result: WebhookResult) -> None:
        (notice,) = result.consent
        assert notice.address == address and notice.channel.value == "email" and notice.reason == reason
        assert notice.at.isoformat().startswith("2026-01-06T15:3")
        assert "@" not in notice.notice_id and result.dedupe_key and "@" not in result.dedupe_key
    return check


def _nothing(result: WebhookResult) -> None:
    assert result.consent == [] and result.events == []


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="mailchimp", provider="mailchimp", make=lambda: MailchimpWebhook(SECRET), sign=mailchimp_request,
        forge=lambda r: mailchimp_request(r.body, datetime.now(), "guessed-secret"),
        truncate=lambda r: mailchimp_request(r.body, datetime.now(), SECRET[:12]),
        unsign=lambda r: mailchimp_request(r.body, datetime.now(), None),
        tamper_body=False,
        fixtures=[FixtureCase("unsubscribe.txt", [], check=_opted_out("user@example.com", "mailchimp unsubscribe")),  # type: ignore[arg-type]
                  FixtureCase("cleaned.txt", [], check=_opted_out("bounced@example.com", "mailchimp cleaned")),  # type: ignore[arg-type]
                  FixtureCase("profile.txt", [], check=_nothing),
                  FixtureCase("upemail.txt", [], check=_nothing),
                  FixtureCase("campaign.txt", [], unknown=["mailchimp.campaign"])],
    )]


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="mailchimp", fake=FakeMailchimp,
        call=lambda url, t: MailchimpClient(KEY, base_url=f"{url}/3.0", timeout=t).ping(),
        path_contains="/3.0/ping",
        error_body=lambda s: problem(s, "Invalid Resource" if s == 400 else "Resource Not Found"),
        expected_code=lambda s: "Invalid Resource" if s == 400 else "Resource Not Found",
    )]
