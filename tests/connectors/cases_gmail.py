"""Gmail through the conformance kit: the Pub/Sub push authenticated by its OIDC token (RS256 under Google's keys,
https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions; here a key generated for the run stands for
Google's), and the send client's error mapping against the Gmail fake (a reset after sending is ambiguous: Gmail
has no idempotency key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from connectors.contract import RawRequest, WebhookResult
from connectors.gmail.client import GmailClient
from connectors.gmail.inbound import GmailPushInbound, GoogleKeys
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.gmail_fake import PUSH_ACCOUNT, GmailFake

AUDIENCE = "https://noshow.example.com/webhooks/gmail"
GOOGLE_KEY = RSAKey.generate_key(2048, parameters={"kid": "google-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "google-1"})


def token(at: datetime, key: RSAKey = GOOGLE_KEY) -> str:
    issued = int(at.timestamp())
    return jwt.encode({"alg": "RS256", "kid": "google-1", "typ": "JWT"},
                      {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": PUSH_ACCOUNT,
                       "email_verified": True, "sub": "1234567890", "iat": issued, "exp": issued + 3600}, key)


def push_request(body: bytes, at: datetime, key: RSAKey = GOOGLE_KEY) -> RawRequest:
    return RawRequest(method="POST", url=AUDIENCE, body=body,
                      headers={"content-type": "application/json", "authorization": f"Bearer {token(at, key)}"})


def make() -> GmailPushInbound:
    keys = KeySet([GOOGLE_KEY]).as_dict(private=False)
    return GmailPushInbound(AUDIENCE, PUSH_ACCOUNT, GoogleKeys("https://www.googleapis.com/oauth2/v3/certs",
                                                              fetch=lambda url: keys))


def _auth(r: RawRequest, value: str | None) -> RawRequest:
    headers = {k: v for k, v in r.headers.items() if k != "authorization"}
    return r.model_copy(update={"headers": headers | ({"authorization": value} if value else {})})


def _pushed(result: WebhookResult) -> None:
    assert result.dedupe_key == "gmail:2070443601311540" and result.messages == []


def inbound_cases() -> list[InboundCase]:
    from datetime import timedelta

    return [InboundCase(
        name="gmail", provider="gmail", make=make, sign=push_request,
        forge=lambda r: push_request(r.body, datetime.fromtimestamp(
            jwt.decode(r.headers["authorization"][7:], GOOGLE_KEY).claims["iat"]), OTHER_KEY),
        truncate=lambda r: _auth(r, r.headers["authorization"][:-20]),
        unsign=lambda r: _auth(r, None),
        tamper_body=False,  # the token covers no body: the envelope is Pub/Sub's, authenticated by who sent it
        stale_after=timedelta(seconds=3660),
        fixtures=[FixtureCase("push.json", [], check=_pushed)],
    )]


def _google_error(status: int) -> Any:
    return {"error": {"code": status, "message": "refused",
                      "status": "INVALID_ARGUMENT" if status == 400 else "NOT_FOUND"}}


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="gmail", fake=GmailFake,
        call=lambda url, t: GmailClient("gmail-token", base_url=url, timeout=t).send(
            "VG86IHBhdEBleGFtcGxlLmNvbQpTdWJqZWN0OiBoaQoKaGkK"),
        path_contains="/gmail/v1/users/me/messages/send",
        error_body=_google_error,
        expected_code=lambda s: str(s),  # the shared mapping reads `error.code` before `error.status`
        ambiguous_on_reset=True,
    )]
