"""Times as people read them, previews that match sends, and a linter that reads meaning."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.models import Channel
from policies.messages import lint, lint_template
from policies.schema import Template
from policies.times import TimeStyle, readable

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=ZoneInfo("America/Chicago"))


def test_times_in_the_customers_zone_with_a_label_when_it_differs_from_the_business() -> None:
    style = TimeStyle.for_contact("America/New_York", "America/Chicago", "en-US", business_zone="America/Chicago",
                                  now=NOW)
    slot = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert style.when(slot) == "tomorrow, Tue Dec 1, 9:00 AM EST"
    same = TimeStyle.for_contact(None, "America/Chicago", "en", business_zone="America/Chicago", now=NOW)
    assert same.when(slot) == "tomorrow, Tue Dec 1, 8:00 AM"  # unknown zone: the location's, no label needed


def test_spanish_and_numbered_lists_from_the_workflows_iso_instants() -> None:
    style = TimeStyle.for_contact("America/Mexico_City", "America/Mexico_City", "es-MX", now=NOW)
    text = readable("1) 2026-12-01T08:00-06:00\n2) 2026-12-03T14:30-06:00", style)
    assert text == "1) mañana, mar 1 de dic, 8:00\n2) jue 3 de dic, 14:30"
    assert readable("call us", style) == "call us"


def test_the_linter_preview_renders_slot_lists_like_a_send() -> None:
    t = Template(id="offer_slots", channel=Channel.sms, body="Times:\n{slot_list}\nReply with a number.")
    preview = lint_template(t).preview or ""
    assert "1) tomorrow, " in preview and ("AM" in preview or "PM" in preview)
    assert "2026-" not in preview and "10:00\n" not in preview


@pytest.mark.parametrize(("text", "code", "phrase"), [
    ("Hi {first_name}, you missed your prenatal visit.", "medical", "prenatal"),
    ("Failure to reschedule may affect your eligibility.", "threat", "failure to reschedule may affect"),
    ("You have been flagged as a repeat no-show.", "shaming", "flagged as a repeat"),
    ("A no-show fee may apply to the card on file.", "implied_fee", "fee"),
    ("You'll feel so much better after your visit!", "overpromise", "feel so much better"),
    ("Hola, usted fue marcado como inasistente.", "shaming", "marcado como"),
    ("De lo contrario perdera su lugar.", "threat", "de lo contrario"),
])
def test_the_linter_finds_meaning_and_names_the_phrase(text: str, code: str, phrase: str) -> None:
    result = lint(text, Channel.sms, vertical="healthcare")
    found = [p for p in result.problems if p.code == code]
    assert found and phrase in found[0].message, result.problems


def _codes(policy: object) -> list[str]:
    from policies.messages import lint_policy

    return [p.code for p in lint_policy(policy) if p.severity == "error"]  # type: ignore[arg-type]


def test_policy_check_wants_words_for_every_kind_a_program_can_start() -> None:
    from policies.loader import load_policy

    policy = load_policy()
    assert "words_for_kind" not in _codes(policy) and "no_words_for_kind" not in _codes(policy)
    policy.templates = [t for t in policy.templates if not t.id.startswith("missed_first.customer_cancel")]
    assert "words_for_kind" in _codes(policy)  # "we missed you" would reach someone who cancelled ahead


def test_policy_check_knows_which_variables_each_step_has() -> None:
    from policies.loader import load_policy

    policy = load_policy()
    first = next(t for t in policy.templates if t.id == "missed_first" and t.channel == Channel.sms)
    first.body = "Hi {first_name}, pick a new time: {booking_link} Reply STOP to opt out."
    assert "variable_unavailable" not in _codes(policy)  # a link in the first message is made available
    first.body = "Hi {first_name}, you're booked {new_appointment_time}. Reply STOP to opt out."
    assert "variable_unavailable" in _codes(policy)
