"""The address book on each backend: which cases know an address, newest first, read the same on SQLite and
Postgres (a STOP or a reply routed by its sender's address reads it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.local.address_book import AddressBook
from connectors.local.db import LocalDb


def test_cases_for_an_address_newest_first_on_either_store(db_url: str) -> None:
    book = AddressBook(LocalDb(db_url))
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    book.remember("case-old", "contact-a", ["addr-1"], at=t0)
    book.remember("case-new", "contact-b", ["addr-1", "addr-2"], at=t0 + timedelta(minutes=5))
    book.remember("case-new", "contact-b", ["addr-1"], at=t0 + timedelta(minutes=9))  # remembered once
    assert book.cases_for_address("addr-1") == ["case-new", "case-old"]
    assert book.cases_for_address("addr-2") == ["case-new"]
    assert book.cases_for_address("addr-unknown") == []
    assert sorted(book.contact_keys("addr-1")) == ["contact-a", "contact-b"]
    assert book.cases_of_contacts(["contact-a", "contact-b"]) == ["case-new", "case-old"]


def test_addresses_and_appointment_remembered_together_on_either_store(db_url: str) -> None:
    book = AddressBook(LocalDb(db_url))
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    book.remember("case-a", "contact-a", ["addr-9"], at=t0, appointment=("dental", t0 + timedelta(days=1)))
    assert book.appointments_for_address("addr-9") == [("case-a", "dental", t0 + timedelta(days=1))]
    # a moved appointment: the latest time the engine heard of replaces the first
    book.remember("case-a", "contact-a", ["addr-9"], at=t0, appointment=("dental", t0 + timedelta(days=2)))
    assert book.appointments_for_case("case-a") == [("case-a", "dental", t0 + timedelta(days=2))]
