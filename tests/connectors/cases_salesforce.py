"""Salesforce through the conformance kit's outbound checks, and what its tests share: a connected app's key pair
and a fake org. Salesforce pushes nothing the engine receives (polling is its inbound path), so it has no inbound
case; its authentication is the JWT bearer grant, checked in tests/connectors/test_salesforce.py.

Fixtures: `query_service_appointments.json` and `queryall_events.json` follow the query response of
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm (`totalSize`, `done`,
`records` with `attributes`), with the ServiceAppointment fields of
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_serviceappointment.htm
and the Event fields of
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.oauth import JwtBearerGrant, MemoryTokenStore, TokenManager
from connectors.salesforce.client import SalesforceClient
from tests.connectors.kit import OutboundCase
from tests.fakes.salesforce_fake import FakeSalesforce, sf_error

CONSUMER_KEY = "3MVG9...consumerkey"
USERNAME = "integration@example.com"
AUDIENCE = "https://login.salesforce.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
OTHER_KEY_PEM = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def fake_org(page_size: int = 2) -> FakeSalesforce:
    return FakeSalesforce(KEY.public_key(), CONSUMER_KEY, USERNAME, AUDIENCE, page_size=page_size)


def token_manager(fake: FakeSalesforce, key_pem: str = KEY_PEM, consumer_key: str = CONSUMER_KEY) -> TokenManager:
    grant = JwtBearerGrant(consumer_key, USERNAME, AUDIENCE, key_pem)
    return TokenManager("salesforce", USERNAME, f"{fake.base_url}/services/oauth2/token", grant, MemoryTokenStore())


def _seeded() -> FakeSalesforce:
    fake = fake_org()
    fake.tokens.add("static-session")
    return fake


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="salesforce", fake=_seeded,
        call=lambda url, t: SalesforceClient("static-session", instance_url=url, timeout=t).query(
            "SELECT Id FROM Contact WHERE Email = 'a@example.com' LIMIT 1"),
        path_contains="/services/data/v62.0/query/",
        error_body=lambda s: sf_error("MALFORMED_QUERY" if s == 400 else "NOT_FOUND", "x"),
        expected_code=lambda s: "MALFORMED_QUERY" if s == 400 else "NOT_FOUND",
    )]
