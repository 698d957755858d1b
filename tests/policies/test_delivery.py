"""What a provider's delivery news means: a status that only moves forward, the ledger event of each status, and
the timeline wording, which never names a link."""

from __future__ import annotations

import itertools

import pytest

from policies import crm_rules, delivery
from policies.schema import CrmRules

ORDER = ["queued", "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed"]


@pytest.mark.parametrize(("earlier", "later"), list(itertools.combinations(ORDER, 2)))
def test_news_further_along_replaces_the_status_and_older_news_does_not(earlier: str, later: str) -> None:
    assert delivery.advances(earlier, later)
    assert not delivery.advances(later, earlier)


def test_a_repeat_or_an_unknown_status_changes_nothing() -> None:
    assert not delivery.advances("opened", "opened")
    assert not delivery.advances("read", "opened")  # a WhatsApp read is that channel's open
    assert not delivery.advances("sent", "brand_new")
    assert delivery.advances(None, "sent")


def test_engagement_is_recorded_as_engagement_never_as_a_failure() -> None:
    assert [delivery.ledger_type(s) for s in ("opened", "read", "clicked")] == [
        "message_opened", "message_opened", "message_clicked"]
    assert delivery.ENGAGED.isdisjoint(delivery.FAILED)
    assert {delivery.ledger_type(s) for s in delivery.FAILED} == {"message_failed"}
    assert delivery.ledger_type("delivered") == "message_delivered"
    assert delivery.ledger_type("queued") is None and delivery.ledger_type("sent") is None


def test_the_timeline_says_a_link_was_clicked_without_naming_it() -> None:
    rules = CrmRules(message_notes=True)
    [note] = crm_rules.message_note(rules, "missed_first", "email", delivery.note_words("clicked") or "", "case-1")
    assert note == "Message missed_first by email: a link was clicked (case case-1)"
    assert "http" not in note
    assert delivery.note_words("sent") is None and delivery.note_words("queued") is None  # the send notes "sent"
    assert crm_rules.message_note(CrmRules(), "missed_first", "email", "delivered", "case-1") == []
