"""The linking rule a STOP follows: what links two addresses, and what must not."""

from __future__ import annotations

from policies.consent_links import is_shared, linked_addresses
from policies.schema import OptOutScope

DEFAULT = OptOutScope()


def test_one_booking_with_phone_and_email_links_them() -> None:
    assert linked_addresses([frozenset({"email"})], DEFAULT) == {"email"}


def test_the_same_person_booking_again_stays_linked() -> None:
    # phone + email twice, then with one more address: the email is in common, so one person
    bookings = [frozenset({"email"}), frozenset({"email"}), frozenset({"email", "phone-2"})]
    assert not is_shared(bookings)
    assert linked_addresses(bookings, DEFAULT) == {"email", "phone-2"}


def test_a_booking_with_the_address_alone_links_nothing_and_hides_no_link() -> None:
    assert linked_addresses([frozenset()], DEFAULT) == frozenset()
    assert linked_addresses([frozenset(), frozenset({"email"})], DEFAULT) == {"email"}


def test_no_booking_no_link() -> None:
    assert linked_addresses([], DEFAULT) == frozenset()


def test_a_family_phone_booked_with_two_emails_reaches_neither_by_default() -> None:
    bookings = [frozenset({"parent-email"}), frozenset({"child-email"})]
    assert is_shared(bookings)
    assert linked_addresses(bookings, DEFAULT) == frozenset()


def test_the_policy_may_let_a_shared_address_reach_every_linked_one() -> None:
    bookings = [frozenset({"parent-email"}), frozenset({"child-email"})]
    assert linked_addresses(bookings, OptOutScope(shared_addresses=True)) == {"parent-email", "child-email"}


def test_the_policy_may_keep_an_opt_out_on_its_own_address() -> None:
    assert linked_addresses([frozenset({"email"})], OptOutScope(linked_addresses=False)) == frozenset()
