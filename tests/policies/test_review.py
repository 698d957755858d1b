"""Review routing: which cases a human must see, with SLA, reminders and lapse action."""

from __future__ import annotations

from domain.models import CaseKind, Contact
from policies.review import ReviewInput, route
from policies.schema import LapseAction, ReviewRules

from .helpers import appt


def r(**kw):  # type: ignore[no-untyped-def]
    rules = kw.pop("rules", ReviewRules())
    a = kw.pop("appointment", appt())
    return route(ReviewInput(kind=kw.pop("kind", CaseKind.no_show), appointment=a, rules=rules, **kw))


def test_plain_confident_case_needs_no_review() -> None:
    out = r(attendance_confidence=0.95)
    assert not out.needs_review and out.codes == []


def test_unclear_attendance_routes_to_review() -> None:
    out = r(attendance_needs_review=True, attendance_reasons=["conflicting evidence"])
    assert out.needs_review and "unclear" in out.codes
    assert "conflicting evidence" in out.reasons[0]


def test_low_confidence() -> None:
    assert "low_confidence" in r(attendance_confidence=0.5).codes


def test_dispute_is_urgent() -> None:
    out = r(disputed=True, rules=ReviewRules(urgent_sla_minutes=30))
    assert "dispute" in out.codes and out.priority == "urgent" and out.sla_minutes == 30


def test_sensitive_categories_case_insensitive_and_minor() -> None:
    assert "sensitive" in r(appointment=appt(categories=["Medical"])).codes
    minor = appt(contact=Contact(contact_id="k", is_minor=True))
    assert "sensitive" in r(appointment=minor).codes
    assert "sensitive" not in r(appointment=minor, rules=ReviewRules(sensitive_categories=["legal"])).codes
    assert "sensitive" in r(appointment=appt(appointment_type="biopsy_followup"),
                            rules=ReviewRules(sensitive_types=["biopsy*"])).codes


def test_high_value_threshold_from_policy() -> None:
    a = appt(value=600)
    assert "high_value" in r(appointment=a).codes
    assert "high_value" not in r(appointment=a, rules=ReviewRules(high_value_threshold=1000)).codes
    assert "high_value" not in r(appointment=a, rules=ReviewRules(high_value_threshold=None)).codes


def test_repeat_no_shows_in_window() -> None:
    rules = ReviewRules(repeat_no_show_count=3)
    assert "repeat" not in r(prior_no_shows_in_window=1, rules=rules).codes
    assert "repeat" in r(prior_no_shows_in_window=2, rules=rules).codes
    # a customer cancellation is not itself a miss
    assert "repeat" not in r(prior_no_shows_in_window=2, rules=rules, kind=CaseKind.customer_cancel).codes


def test_case_kind_and_compliance_flags() -> None:
    assert "case_kind" in r(kind=CaseKind.failed_access).codes
    out = r(compliance_flags=["number on suppression list"])
    assert "compliance" in out.codes and "suppression" in out.reasons[0]


def test_sla_reminders_and_lapse_action_from_policy() -> None:
    rules = ReviewRules(sla_minutes=120, reminder_minutes=[90, 30, 200, 30], lapse_action=LapseAction.suppress)
    out = r(attendance_needs_review=True, rules=rules)
    assert out.sla_minutes == 120
    assert out.reminder_minutes == [30, 90]  # sorted, unique, inside the SLA
    assert out.lapse_action == LapseAction.suppress


def test_proceed_on_lapse_never_applies_to_unclear_or_sensitive_cases() -> None:
    rules = ReviewRules(lapse_action=LapseAction.proceed)
    assert r(appointment=appt(value=900), rules=rules).lapse_action == LapseAction.proceed
    assert r(attendance_needs_review=True, rules=rules).lapse_action == LapseAction.escalate
    assert r(appointment=appt(categories=["legal"]), rules=rules).lapse_action == LapseAction.escalate
