"""The embedded CRM's contact records."""

from __future__ import annotations

from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from domain.models import Contact


def test_a_source_that_knows_less_does_not_erase_contact_details(db_url: str) -> None:
    crm = LocalCrm(LocalDb(db_url))
    crm.upsert_contact(Contact(contact_id="c-1", name="Pat", phone="+15555550100", email="pat@example.com",
                               timezone="America/Chicago"))
    crm.upsert_contact(Contact(contact_id="c-1", email="pat.new@example.com"))
    merged = crm.contact("c-1")
    assert merged is not None
    assert (merged.name, merged.phone, merged.email, merged.timezone) == (
        "Pat", "+15555550100", "pat.new@example.com", "America/Chicago")
