"""Attendance fusion: every signal kind, conflicts and missing evidence go to review."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.models import CaseKind, Verdict
from domain.models import SignalKind as K
from policies.attendance import AttendanceInput, cancelled_kind, decide
from policies.schema import AttendanceRules

from .helpers import AFTER, START, appt, sig


def verdict(*signals, now=AFTER, rules=None):  # type: ignore[no-untyped-def]
    return decide(AttendanceInput(appointment=appt(), signals=list(signals), now=now,
                                  rules=rules or AttendanceRules()))


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (sig(K.scheduler_status, "no_show"), Verdict.no_show),
        (sig(K.scheduler_status, "No-Show"), Verdict.no_show),
        (sig(K.crm_disposition, "completed"), Verdict.attended),
        (sig(K.owner_confirmation, "no_show"), Verdict.no_show),
        (sig(K.owner_confirmation, "attended"), Verdict.attended),
        (sig(K.check_in), Verdict.attended),
        (sig(K.technician_report, "completed"), Verdict.attended),
        (sig(K.technician_report, "failed_access"), Verdict.no_show),
        (sig(K.meeting_join, joined=True, minutes=25, participant="guest"), Verdict.attended),
        (sig(K.meeting_join, joined=False, participant="guest"), Verdict.no_show),
        (sig(K.reschedule), Verdict.rescheduled),
        (sig(K.crm_disposition, "rescheduled"), Verdict.rescheduled),
        (sig(K.running_late), Verdict.review),
        (sig(K.dispute), Verdict.review),
    ],
)
def test_single_signal_kinds(signal, expected) -> None:  # type: ignore[no-untyped-def]
    assert verdict(signal).verdict == expected


def test_cancellation_timing_uses_policy_window() -> None:
    late = sig(K.cancellation, at=START - timedelta(hours=3))
    early = sig(K.cancellation, at=START - timedelta(hours=30))
    assert verdict(late).verdict == Verdict.late_cancel
    assert verdict(early).verdict == Verdict.cancelled
    # a 2-hour window from policy turns the 3-hour notice into an ordinary cancellation
    assert verdict(late, rules=AttendanceRules(late_cancel_window_hours=2)).verdict == Verdict.cancelled
    assert "window 24 h" in verdict(late).reasons[0]


def test_business_cancellation_is_not_a_late_cancel() -> None:
    d = verdict(sig(K.cancellation, "host", at=START - timedelta(hours=1)))
    assert d.verdict == Verdict.cancelled


def test_any_sign_of_attendance_blocks_an_automated_no_show() -> None:
    for sign in (
        sig(K.check_in),
        sig(K.running_late),
        sig(K.meeting_join, joined=True, minutes=1, participant="guest"),
        sig(K.meeting_join, joined=True, minutes=30, participant="any"),
        sig(K.owner_confirmation, "attended"),
    ):
        d = verdict(sig(K.scheduler_status, "no_show"), sign)
        assert d.verdict == Verdict.review and d.needs_review, sign


def test_host_only_join_data_is_not_guest_attendance() -> None:
    host = sig(K.meeting_join, joined=True, minutes=45, participant="host")
    d = verdict(host)
    assert d.verdict == Verdict.review  # nothing about the guest: no verdict either way
    assert any("host join data" in i for i in d.ignored)
    # host joined and the scheduler says no-show: still a no-show, the host does not count
    d = verdict(host, sig(K.scheduler_status, "no_show"))
    assert d.verdict == Verdict.no_show


def test_unattributed_join_alone_is_too_weak_to_automate() -> None:
    d = verdict(sig(K.meeting_join, joined=True, minutes=30, participant="any"))
    assert d.verdict == Verdict.review and d.needs_review
    assert 0 < d.confidence < 0.8


def test_missing_evidence_goes_to_review_unless_policy_allows() -> None:
    d = verdict()
    assert d.verdict == Verdict.review and d.needs_review
    permissive = AttendanceRules(require_positive_no_show_evidence=False, no_evidence_confidence=0.85)
    assert verdict(rules=permissive).verdict == Verdict.no_show
    # permissive, but the configured confidence is below the automation threshold: review
    weak = AttendanceRules(require_positive_no_show_evidence=False, no_evidence_confidence=0.6)
    assert verdict(rules=weak).verdict == Verdict.review


def test_before_the_grace_period_ends_nothing_is_concluded() -> None:
    d = verdict(now=START + timedelta(minutes=35))
    assert d.verdict == Verdict.review and d.confidence == 0.0


def test_no_show_report_before_start_is_reviewed() -> None:
    d = verdict(sig(K.scheduler_status, "no_show", at=START - timedelta(hours=1)), now=START - timedelta(minutes=5))
    assert d.verdict == Verdict.review


def test_conflicting_evidence_goes_to_review_with_reasons() -> None:
    d = verdict(sig(K.crm_disposition, "completed"), sig(K.scheduler_status, "no_show"))
    assert d.verdict == Verdict.review
    assert d.reasons[0] == "conflicting evidence"
    assert any("crm_disposition" in r for r in d.reasons) and any("scheduler_status" in r for r in d.reasons)


def test_dispute_always_reviews_even_with_strong_no_show_evidence() -> None:
    d = verdict(sig(K.owner_confirmation, "no_show"), sig(K.scheduler_status, "no_show"), sig(K.dispute))
    assert d.verdict == Verdict.review and any("disputes" in r for r in d.reasons)


def test_cancelled_and_marked_no_show_is_a_conflict() -> None:
    d = verdict(sig(K.cancellation, at=START - timedelta(days=2)), sig(K.scheduler_status, "no_show"))
    assert d.verdict == Verdict.review


def test_confidence_combines_agreeing_evidence_and_threshold_comes_from_policy() -> None:
    one = verdict(sig(K.crm_disposition, "no_show"))
    two = verdict(sig(K.crm_disposition, "no_show"), sig(K.scheduler_status, "no_show"))
    assert two.confidence > one.confidence
    strict = AttendanceRules(automate_min_confidence=0.95)
    assert verdict(sig(K.crm_disposition, "no_show"), rules=strict).verdict == Verdict.review
    assert verdict(sig(K.crm_disposition, "no_show"), sig(K.scheduler_status, "no_show"),
                   rules=strict).verdict == Verdict.no_show


def test_weights_come_from_policy() -> None:
    low = AttendanceRules(weights={K.scheduler_status: 0.5})
    assert verdict(sig(K.scheduler_status, "no_show"), rules=low).verdict == Verdict.review


def test_neutral_and_unknown_values_are_listed_not_counted() -> None:
    d = verdict(sig(K.scheduler_status, "active"), sig(K.crm_disposition, "weird"))
    assert d.verdict == Verdict.review
    assert len(d.ignored) == 2


def test_short_join_below_policy_minimum_is_not_proof() -> None:
    brief = sig(K.meeting_join, joined=True, minutes=3, participant="guest")
    assert verdict(brief).verdict == Verdict.review
    assert verdict(brief, rules=AttendanceRules(min_join_minutes=2)).verdict == Verdict.attended


def test_every_decision_has_reasons_and_bounded_confidence() -> None:
    kinds = list(K)
    for kind in kinds:
        d = verdict(sig(kind, "no_show"))
        assert d.reasons, kind
        assert 0.0 <= d.confidence <= 1.0
        assert d.needs_review == (d.verdict == Verdict.review)


def test_a_missed_call_from_the_customer_keeps_a_no_show_for_a_person() -> None:
    d = verdict(sig(K.scheduler_status, "no_show"), sig(K.phone_call, "missed_call"))
    assert d.verdict == Verdict.review and d.needs_review
    assert any("called" in r for r in d.reasons)


def test_a_cancellation_by_the_business_is_its_own_kind_and_the_customers_is_not() -> None:
    business = sig(K.cancellation, "business", at=START - timedelta(hours=2))
    customer = sig(K.cancellation, None, at=START - timedelta(hours=2))
    for signals, kind in (([business, customer], CaseKind.business_cancel), ([customer], CaseKind.customer_cancel)):
        inp = AttendanceInput(appointment=appt(), signals=signals, now=AFTER, rules=AttendanceRules())
        assert cancelled_kind(inp) == kind
    # inside the late-cancel window all the same: the business's cancellation is never a late cancel
    assert decide(AttendanceInput(appointment=appt(), signals=[business, customer], now=AFTER,
                                  rules=AttendanceRules())).verdict == Verdict.cancelled
