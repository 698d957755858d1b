"""Which other addresses a revoke-all opt-out reaches: the person who texted STOP (or unsubscribed) withdrew
consent for every message from this sender, so the addresses the engine has seen *with* that address for the
same person are opted out too, even when a later booking in another system carries only one of them.

The rule, over the bookings (cases) that carried the opted-out address, each given as the set of its other
address keys:

- Two addresses are linked when one booking carried both (one contact record named the phone and the email). A
  link is one hop: an address linked to a linked address is not reached, so a chain of bookings cannot spread
  one person's STOP across a household.
- An address is *shared* when two bookings that carried it name other addresses with none in common (a family
  phone booked once with a parent's email and once with a child's): the engine cannot tell whose STOP it was, so
  it reaches no other address unless the policy says so (`opt_out.shared_addresses`). The contact records of
  every booking with the address are opted out either way (the consent ledger does that by contact key).
- A booking that named the address alone adds nothing, and the same person giving one more address later
  (phone + email, then phone + email + a second phone) still has an address in common, so stays linked.

The FCC's revocation rules (consent withdrawn "by any reasonable means", and the revoke-all provision: a
revocation applies to every message from that sender) are why a STOP is not kept to the channel it came on:
https://docs.fcc.gov/public/attachments/FCC-24-24A1.pdf"""

from __future__ import annotations

from collections.abc import Iterable

from policies.schema import OptOutScope


def is_shared(bookings: Iterable[frozenset[str]]) -> bool:
    """Two bookings name other addresses and have none of them in common."""
    named = [b for b in bookings if b]
    return any(not (a & b) for i, a in enumerate(named) for b in named[i + 1:])


def linked_addresses(bookings: Iterable[frozenset[str]], scope: OptOutScope) -> frozenset[str]:
    """The address keys a revoke-all opt-out of one address also opts out, given the other address keys of each
    booking that carried it."""
    named = [b for b in bookings if b]
    if not scope.linked_addresses or not named:
        return frozenset()
    if is_shared(named) and not scope.shared_addresses:
        return frozenset()
    return frozenset().union(*named)
