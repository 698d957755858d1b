"""A revoke-all opt-out follows the person through the consent ledger, on SQLite and on Postgres: the address
booked together with the opted-out one is opted out in the same transaction, once, and a channel-scoped
opt-out, a shared family phone or a contact key reaches no other address."""

from __future__ import annotations

import uuid

from connectors.local.address_book import AddressBook
from connectors.local.consent import ConsentLedger, linked_event_id
from connectors.local.db import LocalDb
from domain.addresses import address_key
from policies.schema import OptOutScope

SALT = "test-salt"


def key(address: str) -> str:
    return address_key(address, SALT)


def stores(db_url: str, scope: OptOutScope | None = None) -> tuple[ConsentLedger, AddressBook]:
    db = LocalDb(db_url)
    return ConsentLedger(db, scope=lambda: scope or OptOutScope()), AddressBook(db)


def booked(book: AddressBook, *addresses: str) -> str:
    case_id = f"case-{uuid.uuid4().hex[:24]}"
    book.remember(case_id, f"contact-{uuid.uuid4().hex[:12]}", [key(a) for a in addresses])
    return case_id


def test_a_phone_stop_opts_out_the_email_booked_with_it_once(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550100", "pat@example.com")
    booked(book, "pat@example.com")  # another system, email only: not what links them, but what must be stopped
    assert consent.opt_out_newly("reply-1:address", key("+14155550100"), evidence="STOP", evidence_channel="sms")
    assert consent.is_blocked(key("pat@example.com"), "email")
    assert consent.is_blocked(key("pat@example.com"), "sms")
    # a re-delivered STOP records nothing new, on the phone or on the email
    assert not consent.opt_out_newly("reply-1:address", key("+14155550100"), evidence="STOP", evidence_channel="sms")
    with consent.db.connect() as conn:
        rows = conn.execute("SELECT event_id FROM consent_events WHERE contact_key = ?",
                            (key("pat@example.com"),)).fetchall()
    assert [str(r[0]) for r in rows] == [linked_event_id("reply-1:address", key("pat@example.com"))]
    assert "pat@example.com" not in str(rows) and "+1415" not in str(rows)  # the ids are opaque


def test_an_email_unsubscribe_opts_out_the_phone_booked_with_it(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550101", "sam@example.com")
    consent.opt_out("sg-unsub-1:address", key("sam@example.com"), evidence="provider status unsubscribed")
    assert consent.is_blocked(key("+14155550101"), "sms")


def test_a_channel_opt_out_stays_on_its_address(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550102", "kim@example.com")
    consent.opt_out("mc-1:unsubscribe", key("kim@example.com"), channel="email", evidence="audience unsubscribe")
    assert consent.is_blocked(key("kim@example.com"), "email")
    assert not consent.is_blocked(key("+14155550102"), "sms")


def test_a_shared_family_phone_does_not_opt_out_either_email(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550103", "parent@example.com")
    booked(book, "+14155550103", "child@example.com")
    consent.opt_out_newly("reply-2:address", key("+14155550103"), evidence="STOP", evidence_channel="sms")
    assert consent.is_blocked(key("+14155550103"), "sms")
    assert not consent.is_blocked(key("parent@example.com"), "email")
    assert not consent.is_blocked(key("child@example.com"), "email")


def test_the_policy_can_let_a_shared_phone_reach_both_emails(db_url: str) -> None:
    consent, book = stores(db_url, OptOutScope(shared_addresses=True))
    booked(book, "+14155550104", "parent@example.com")
    booked(book, "+14155550104", "child@example.com")
    consent.opt_out_newly("reply-3:address", key("+14155550104"), evidence="STOP", evidence_channel="sms")
    assert consent.is_blocked(key("parent@example.com"), "email")
    assert consent.is_blocked(key("child@example.com"), "email")


def test_a_link_is_one_hop(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550105", "lee@example.com")
    booked(book, "lee@example.com", "+14155550106")  # the email with another phone, in another booking
    consent.opt_out_newly("reply-4:address", key("+14155550105"), evidence="STOP", evidence_channel="sms")
    assert consent.is_blocked(key("lee@example.com"), "email")
    assert not consent.is_blocked(key("+14155550106"), "sms")


def test_an_unreadable_policy_still_follows_the_shipped_rule(db_url: str) -> None:
    def broken() -> OptOutScope:
        raise OSError("policy file gone")
    db = LocalDb(db_url)
    consent, book = ConsentLedger(db, scope=broken), AddressBook(db)
    booked(book, "+14155550107", "ray@example.com")
    assert consent.opt_out_newly("reply-5:address", key("+14155550107"), evidence="STOP", evidence_channel="sms")
    assert consent.is_blocked(key("ray@example.com"), "email")


def test_a_later_booking_of_a_stopped_phone_with_an_email_stops_the_email(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550108")
    consent.opt_out_newly("reply-6:address", key("+14155550108"), evidence="STOP", evidence_channel="sms")
    later = booked(book, "+14155550108", "ada@example.com")
    assert not consent.is_blocked(key("ada@example.com"), "email")  # not before the booking is looked at
    assert consent.carry_to_booking(later, [key("+14155550108"), key("ada@example.com")]) == 1
    assert consent.is_blocked(key("ada@example.com"), "email")
    assert consent.carry_to_booking(later, [key("+14155550108"), key("ada@example.com")]) == 0


def test_a_later_booking_of_a_stopped_family_phone_with_a_new_email_does_not_stop_it(db_url: str) -> None:
    consent, book = stores(db_url)
    booked(book, "+14155550109", "parent@example.com")
    consent.opt_out_newly("reply-7:address", key("+14155550109"), evidence="STOP", evidence_channel="sms")
    later = booked(book, "+14155550109", "child@example.com")
    assert consent.carry_to_booking(later, [key("+14155550109"), key("child@example.com")]) == 0
    assert not consent.is_blocked(key("child@example.com"), "email")
