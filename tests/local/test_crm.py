"""The embedded CRM's contact records."""

from __future__ import annotations

from pathlib import Path

from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from domain.models import Contact


def test_a_source_that_knows_less_does_not_erase_contact_details(tmp_path: Path) -> None:
    crm = LocalCrm(LocalDb(tmp_path / "local.db"))
    crm.upsert_contact(Contact(contact_id="c-1", name="Pat", phone="+15555550100", email="pat@example.com",
                               timezone="America/Chicago"))
    crm.upsert_contact(Contact(contact_id="c-1", email="pat.new@example.com"))
    merged = crm.contact("c-1")
    assert merged is not None
    assert (merged.name, merged.phone, merged.email, merged.timezone) == (
        "Pat", "+15555550100", "pat.new@example.com", "America/Chicago")
