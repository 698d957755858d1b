"""FHIR through the conformance kit: Subscription notifications authenticated by the bearer token the
Subscription's `channel.header` carries (nothing signs the body, so the body-tampering and staleness checks do not
apply), and the REST client's error mapping against the fake FHIR server (OperationOutcome bodies). Fixtures and
their sources: fixtures/fhir/SOURCES.md."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.contract import RawRequest, WebhookResult
from connectors.fhir.client import FhirClient
from connectors.fhir.inbound import FhirSubscriptionInbound
from tests.connectors.kit import FixtureCase, InboundCase, OutboundCase
from tests.fakes.fhir_fake import FakeFhir, outcome

TOKEN = "subscription-token-7f3a"
CLIENT_ID, KEY_ID = "noshow-backend", "key-1"
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SMART_KEY_PEM = _RSA.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()).decode()
SMART_PUBLIC_PEM = _RSA.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fhir_request(body: bytes, at: datetime, token: str = TOKEN) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/fhir", body=body,
                      headers={"content-type": "application/fhir+json", "authorization": f"Bearer {token}"})


def _asks_for_the_poll(result: WebhookResult) -> None:
    assert result.sync_sources == ["fhir"]


def inbound_cases() -> list[InboundCase]:
    return [InboundCase(
        name="fhir", provider="fhir", make=lambda: FhirSubscriptionInbound(TOKEN), sign=fhir_request,
        forge=lambda r: fhir_request(r.body, datetime.now(), "guessed"),
        truncate=lambda r: r.model_copy(update={"headers": {**r.headers,
                                                            "authorization": r.headers["authorization"][:12]}}),
        unsign=lambda r: r.model_copy(update={"headers": {k: v for k, v in r.headers.items()
                                                          if k != "authorization"}}),
        tamper_body=False,
        fixtures=[FixtureCase("notification_id_only.json", [], check=_asks_for_the_poll),
                  FixtureCase("notification_handshake.json", []),
                  FixtureCase("notification_encounter.json", [], unknown=["notification.Encounter"])],
    )]


def _fake() -> FakeFhir:
    fake = FakeFhir()
    fake.static_token("fhir-static")
    return fake


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="fhir", fake=_fake,
        call=lambda url, t: FhirClient("fhir-static", url, timeout=t).capability(),
        path_contains="/metadata",
        error_body=lambda s: outcome(s, "invalid" if s == 400 else "not-found", "refused").body,
        expected_code=lambda s: "invalid" if s == 400 else "not-found",
    )]
