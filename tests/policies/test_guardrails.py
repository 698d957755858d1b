"""One test per built-in guardrail, each failing if the guardrail breaks; and YAML alone changes decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.models import CaseKind, Channel, Verdict
from domain.models import SignalKind as K
from policies.attendance import AttendanceInput, decide
from policies.crm_rules import plan_write
from policies.loader import default_policy_path, load_policy, parse_policy, resolve
from policies.messages import lint, lint_policy
from policies.rebooking import Interval, SlotSearch, candidate_slots
from policies.review import ReviewInput, route
from policies.send_rules import SendCheckInput, check_send

from .helpers import AFTER, START, appt, default_program, sig

DEFAULT_TEXT = default_policy_path().read_text(encoding="utf-8")


def test_guardrail_do_not_trigger_recovery_from_unmanaged_calendars() -> None:
    text = DEFAULT_TEXT.replace(
        "  - source: calcom\n", "  - source: calcom\n    calendars: [\"team-*\"]\n", 1
    )
    policy = parse_policy(text)
    resolved, reason = resolve(policy, appt(source="calcom", calendar_id="personal-jane"))
    assert resolved is None and reason == "unmanaged_calendar"
    resolved, reason = resolve(policy, appt(source="calcom", calendar_id="team-sales"))
    assert resolved is not None and reason is None
    assert resolve(policy, appt(source="unknown_tool"))[0] is None
    assert resolve(policy, appt(source="calcom", calendar_id="team-sales", private=True))[0] is None


def test_guardrail_route_unclear_attendance_to_human_review() -> None:
    program = default_program(load_policy())
    cases = [
        [],  # no evidence
        [sig(K.scheduler_status, "no_show"), sig(K.check_in)],  # conflict
        [sig(K.scheduler_status, "no_show"), sig(K.running_late)],  # sign of attendance
        [sig(K.scheduler_status, "no_show"), sig(K.dispute)],  # dispute
        [sig(K.meeting_join, joined=True, minutes=40, participant="any")],  # maybe the host alone
    ]
    for signals in cases:
        decision = decide(AttendanceInput(appointment=appt(), signals=signals, now=AFTER, rules=program.attendance))
        assert decision.verdict == Verdict.review and decision.needs_review, signals
        r = route(ReviewInput(kind=CaseKind.no_show, appointment=appt(), rules=program.review,
                              attendance_needs_review=decision.needs_review,
                              attendance_confidence=decision.confidence, attendance_reasons=decision.reasons))
        assert r.needs_review and r.lapse_action.value != "proceed", signals


def test_guardrail_no_shaming_threats_overpromises_or_unapproved_fee_medical_legal_billing_language() -> None:
    bad = {
        "shaming": "Hi {first_name}, you failed to show up again, which is disappointing.",
        "threat": "Rebook today or we will charge you a penalty.",
        "overpromise": "We guarantee you'll be seen right away.",
        "fee_billing": "A $35 missed-appointment fee has been added to your bill.",
        "medical": "Time to reschedule your biopsy follow-up.",
        "legal": "Failure to respond may lead to legal action by our attorney.",
    }
    for code, text in bad.items():
        for channel in Channel:
            result = lint(text, channel)
            assert not result.ok and code in {p.code for p in result.problems}, (code, channel)
    # and an approved template carrying them makes the policy check fail
    for code, text in bad.items():
        policy_text = DEFAULT_TEXT.replace("Want to pick a new time?", text.replace("{first_name}", "there"), 1)
        errors = [p for p in lint_policy(parse_policy(policy_text)) if p.severity == "error"]
        assert any(p.code == code for p in errors), code


def test_guardrail_do_not_double_book() -> None:
    ny = ZoneInfo("America/New_York")
    rules = default_program(load_policy()).rebooking
    now = datetime(2026, 11, 23, 7, 0, tzinfo=ny)
    busy = [Interval(start=datetime(2026, 11, 23, h, 0, tzinfo=ny), end=datetime(2026, 11, 23, h, 45, tzinfo=ny))
            for h in (10, 12, 14)]
    search = SlotSearch(now=now, duration_minutes=60, rules=rules.model_copy(update={"offer_count": 10}),
                        busy=busy, step_minutes=15)
    slots = candidate_slots(search)
    assert slots
    pad = timedelta(minutes=rules.buffer_minutes)
    for i, (s, e) in enumerate(slots):
        for b in busy:
            assert not (s < b.end + pad and b.start < e + pad), (s, e)
        for s2, e2 in slots[i + 1:]:
            assert not (s < e2 and s2 < e), "two offered slots overlap"


def test_guardrail_do_not_overwrite_owner_notes_billing_status_legal_records() -> None:
    rules = default_program(load_policy()).crm
    current = {"owner_notes": "VIP, call first", "billing_status": "paid", "legal_record": "none",
               "customer_note": "Prefers mornings"}
    desired = {"owner_notes": "", "billing_status": "unpaid", "legal_record": "x", "customer_note": "No-show 23 Nov"}
    plan = plan_write(rules, current, desired)
    written = {c.field for c in plan.changes}
    assert not written & {"owner_notes", "billing_status", "legal_record"}
    note = next(c for c in plan.changes if c.field == "customer_note")
    assert note.after is not None and note.after.startswith("Prefers mornings")  # appended, not overwritten


def test_editing_yaml_changes_decisions_without_code_changes() -> None:
    default = load_policy()
    edited = parse_policy(
        DEFAULT_TEXT.replace("late_cancel_window_hours: 24", "late_cancel_window_hours: 2")
        .replace('window_end: "20:00"', 'window_end: "18:00"')
        .replace("high_value_threshold: 1000", "high_value_threshold: 100"),
        "edited.yaml",
    )
    cancel = [sig(K.cancellation, at=START - timedelta(hours=5))]
    before = decide(AttendanceInput(appointment=appt(), signals=cancel, now=AFTER,
                                    rules=default_program(default).attendance))
    after = decide(AttendanceInput(appointment=appt(), signals=cancel, now=AFTER,
                                   rules=default_program(edited).attendance))
    assert (before.verdict, after.verdict) == (Verdict.late_cancel, Verdict.cancelled)

    evening = datetime(2026, 11, 23, 18, 30, tzinfo=ZoneInfo("America/New_York"))
    send_default = check_send(SendCheckInput(now=evening, channel=Channel.sms, rules=default_program(default).send,
                                             phone="+12032041234"))
    send_edited = check_send(SendCheckInput(now=evening, channel=Channel.sms, rules=default_program(edited).send,
                                            phone="+12032041234"))
    assert send_default.allowed and not send_edited.allowed

    a = appt(value=250)
    review_default = route(ReviewInput(kind=CaseKind.no_show, appointment=a, rules=default_program(default).review))
    review_edited = route(ReviewInput(kind=CaseKind.no_show, appointment=a, rules=default_program(edited).review))
    assert not review_default.needs_review and review_edited.needs_review
    assert edited.version == default.version  # same version string: the edit is still a policy change to record
