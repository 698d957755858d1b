"""Zoho CRM through the conformance kit's outbound checks, and what its tests share: an OAuth client registered
at the fake data centre. Zoho's inbound path (the watch notifications) has its own tests in
tests/connectors/test_zoho_inbound.py: it signs nothing, so the kit's signature checks do not apply.

Fixtures: `events_records.json` follows the get-records answer of
https://www.zoho.com/crm/developer/docs/api/v7/get-records.html (`data`, `info.more_records`) with the meeting
fields of the Events response sample (https://www.zoho.com/crm/developer/docs/api/v2/events-response.html:
`Owner`, `Participants` with `type` and `participant`); `events_deleted.json` follows the sample of
https://www.zoho.com/crm/developer/docs/api/v7/get-deleted-records.html.
"""

from __future__ import annotations

from connectors.oauth import MemoryTokenStore, RefreshTokenGrant, TokenManager
from connectors.zoho.client import ZohoClient
from tests.connectors.kit import OutboundCase
from tests.fakes.zoho_fake import FakeZoho, zoho_error

CLIENT_ID, CLIENT_SECRET, REFRESH = "1000.CLIENT", "client-secret", "1000.refresh"


def fake_zoho(page_size: int = 200) -> FakeZoho:
    return FakeZoho(CLIENT_ID, CLIENT_SECRET, REFRESH, page_size=page_size)


def token_manager(fake: FakeZoho, refresh: str = REFRESH) -> TokenManager:
    return TokenManager("zoho", CLIENT_ID, f"{fake.base_url}/oauth/v2/token",
                        RefreshTokenGrant(CLIENT_ID, CLIENT_SECRET, refresh), MemoryTokenStore())


def _seeded() -> FakeZoho:
    fake = fake_zoho()
    fake.tokens.add("1000.static")
    fake.add("Contacts", {"id": "1", "Last_Name": "Watson", "Email": "ted@zylker.com"})
    return fake


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="zoho", fake=_seeded,
        call=lambda url, t: ZohoClient("1000.static", api_domain=url, timeout=t).get("Contacts", "1", ["Email"]),
        path_contains="/crm/v7/Contacts/1",
        error_body=lambda s: zoho_error("INVALID_DATA" if s == 400 else "INVALID_URL_PATTERN", "x"),
        expected_code=lambda s: "INVALID_DATA" if s == 400 else "INVALID_URL_PATTERN",
    )]
