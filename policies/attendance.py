"""Fuse attendance evidence into a verdict.

Rules of thumb encoded here (thresholds and weights come from `AttendanceRules`):
- any sign of attendance (a check-in, the guest joining, "running late", an owner saying they came)
  blocks an automated no-show: with contrary evidence the case goes to review;
- join data of the host alone is not attendance of the guest;
- a dispute always goes to review;
- a no-show needs positive evidence (someone or something said so) unless the policy says otherwise;
- below the policy's confidence threshold a verdict is not automated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.models import Appointment, AttendanceSignal, CaseKind, SignalKind, Verdict
from policies.schema import AttendanceRules


class AttendanceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment: Appointment
    signals: list[AttendanceSignal] = Field(default_factory=list)
    now: AwareDatetime
    rules: AttendanceRules = Field(default_factory=AttendanceRules)


class AttendanceDecision(BaseModel):
    verdict: Verdict
    confidence: float
    reasons: list[str]
    needs_review: bool
    # evidence that was looked at but did not count, and why (host-only join data, unknown values ...)
    ignored: list[str] = Field(default_factory=list)


_NO_SHOW_VALUES = {"no_show", "noshow", "absent", "missed", "did_not_attend", "dna", "not_attended", "no_showed"}
_ATTENDED_VALUES = {
    "attended", "completed", "complete", "showed", "show", "arrived", "checked_in", "present", "fulfilled",
    "seen", "done", "in_progress",
}
_CANCEL_VALUES = {"cancelled", "canceled", "cancelled_by_customer", "canceled_by_customer"}
_HOST_CANCEL_VALUES = {"cancelled_by_host", "canceled_by_host", "host", "owner", "business", "staff"}
_RESCHEDULE_VALUES = {"rescheduled", "moved"}
_NEUTRAL_VALUES = {"active", "scheduled", "booked", "confirmed", "pending", "accepted", "upcoming", "open", ""}
_FAILED_ACCESS_VALUES = {"failed_access", "no_access", "no_answer", "not_home"}


def _norm(value: str | None) -> str:
    return (value or "").strip().lower().replace(" ", "_").replace("-", "_")


def _combine(weights: list[float]) -> float:
    """Independent agreeing evidence: 1 - prod(1 - w)."""
    miss = 1.0
    for w in weights:
        miss *= 1.0 - w
    return round(1.0 - miss, 4)


class _Evidence:
    def __init__(self) -> None:
        self.attended: list[tuple[str, float]] = []
        self.absent: list[tuple[str, float]] = []
        self.soft_attendance: list[str] = []  # signs of attendance that are not proof (running late, brief join)
        self.disputes: list[str] = []
        self.customer_cancel: list[datetime] = []
        self.host_cancel: list[str] = []
        self.rescheduled: list[str] = []
        self.ignored: list[str] = []


def _collect(inp: AttendanceInput) -> _Evidence:
    rules = inp.rules
    ev = _Evidence()
    for s in inp.signals:
        v = _norm(s.value)
        weight = rules.weights.get(s.kind, 0.5)
        where = f"({s.kind.value} from {s.source})"
        if s.kind == SignalKind.dispute:
            ev.disputes.append(f"customer disputes the no-show {where}")
        elif s.kind == SignalKind.running_late:
            ev.soft_attendance.append(f"customer said they were running late {where}")
        elif s.kind == SignalKind.phone_call:
            # they may have called to say they were late or lost: a person decides, never an automated no-show
            ev.soft_attendance.append(f"customer called near the appointment and nobody answered {where}")
        elif s.kind == SignalKind.check_in:
            if v in _NO_SHOW_VALUES or v in {"failed", "not_checked_in", "false"}:
                ev.ignored.append(f"check-in signal that reports no check-in {where}")
            else:
                ev.attended.append((f"checked in {where}", weight))
        elif s.kind == SignalKind.meeting_join:
            _meeting(s, rules, weight, where, ev)
        elif s.kind == SignalKind.cancellation:
            if s.participant == "host" or v in _HOST_CANCEL_VALUES:
                ev.host_cancel.append(f"the business cancelled {where}")
            else:
                ev.customer_cancel.append(s.at)
        elif s.kind == SignalKind.reschedule:
            ev.rescheduled.append(f"appointment was rescheduled {where}")
        else:  # scheduler_status, crm_disposition, owner_confirmation, technician_report
            label = f"{s.kind.value}={v or 'empty'} {where}"
            if v in _NO_SHOW_VALUES or v in _FAILED_ACCESS_VALUES:
                ev.absent.append((label, weight))
            elif v in _ATTENDED_VALUES:
                ev.attended.append((label, weight))
            elif v in _CANCEL_VALUES:
                ev.customer_cancel.append(s.at)
            elif v in _HOST_CANCEL_VALUES:
                ev.host_cancel.append(f"the business cancelled {where}")
            elif v in _RESCHEDULE_VALUES:
                ev.rescheduled.append(f"appointment was rescheduled {where}")
            elif v in _NEUTRAL_VALUES:
                ev.ignored.append(f"{label}: says nothing about attendance")
            else:
                ev.ignored.append(f"{label}: value not understood")
    return ev


def _meeting(s: AttendanceSignal, rules: AttendanceRules, weight: float, where: str, ev: _Evidence) -> None:
    minutes = s.minutes or 0.0
    joined = s.joined if s.joined is not None else (minutes > 0 or None)
    if s.participant == "host":
        ev.ignored.append(f"host join data is not attendance of the guest {where}")
        return
    if joined is None:
        ev.ignored.append(f"meeting data without join information {where}")
        return
    if joined:
        if s.participant == "any":
            # could be the host alone: a sign of attendance, not proof of it
            if minutes >= rules.min_join_minutes:
                ev.attended.append(
                    (f"someone (guest or host, unknown) joined for {minutes:g} min {where}",
                     rules.unattributed_join_weight)
                )
            else:
                ev.soft_attendance.append(f"someone (guest or host, unknown) joined for {minutes:g} min {where}")
        elif minutes >= rules.min_join_minutes:
            ev.attended.append((f"guest joined the meeting for {minutes:g} min {where}", weight))
        else:
            ev.soft_attendance.append(
                f"guest joined for only {minutes:g} min (< {rules.min_join_minutes:g}) {where}"
            )
        return
    who = "nobody joined the meeting" if s.participant == "any" else "the guest never joined the meeting"
    ev.absent.append((f"{who} {where}", weight))


def _decision(verdict: Verdict, confidence: float, reasons: list[str], rules: AttendanceRules,
              ignored: list[str]) -> AttendanceDecision:
    if verdict == Verdict.review:
        return AttendanceDecision(verdict=verdict, confidence=confidence, reasons=reasons, needs_review=True,
                                  ignored=ignored)
    if confidence < rules.automate_min_confidence:
        return AttendanceDecision(
            verdict=Verdict.review, confidence=confidence,
            reasons=[f"{verdict.value} at confidence {confidence:.2f} is below the automation threshold "
                     f"{rules.automate_min_confidence:.2f}", *reasons],
            needs_review=True, ignored=ignored,
        )
    return AttendanceDecision(verdict=verdict, confidence=confidence, reasons=reasons, needs_review=False,
                              ignored=ignored)


def cancelled_kind(inp: AttendanceInput) -> CaseKind:
    """The kind of a case whose verdict is `cancelled`: the business's cancellation when the evidence says the
    business called it off (`decide` gives such a case that verdict, never a late cancel), else the customer's."""
    return CaseKind.business_cancel if _collect(inp).host_cancel else CaseKind.customer_cancel


def decide(inp: AttendanceInput) -> AttendanceDecision:
    appt, rules = inp.appointment, inp.rules
    ev = _collect(inp)
    ignored = ev.ignored
    attended = [label for label, _ in ev.attended]
    absent = [label for label, _ in ev.absent]

    if ev.disputes:
        return _decision(Verdict.review, 0.5, [*ev.disputes, *attended, *ev.soft_attendance, *absent], rules,
                         ignored)
    if ev.attended and (ev.absent or ev.customer_cancel or ev.rescheduled):
        contrary = [*absent, *(["customer cancelled"] if ev.customer_cancel else []), *ev.rescheduled]
        return _decision(Verdict.review, 0.4, ["conflicting evidence", *attended, *ev.soft_attendance, *contrary],
                         rules, ignored)
    if ev.attended:
        confidence = _combine([w for _, w in ev.attended])
        return _decision(Verdict.attended, confidence, [*attended, *ev.soft_attendance], rules, ignored)
    if ev.host_cancel:
        # the business cancelled: not the customer's miss, never a late cancel or no-show
        return _decision(Verdict.cancelled, 0.95, ev.host_cancel, rules, ignored)
    if ev.rescheduled:
        if ev.absent or ev.soft_attendance:
            return _decision(Verdict.review, 0.4, ["conflicting evidence", *ev.rescheduled, *absent,
                                                   *ev.soft_attendance], rules, ignored)
        return _decision(Verdict.rescheduled, 0.95, ev.rescheduled, rules, ignored)
    if ev.customer_cancel:
        if ev.absent or ev.soft_attendance:
            return _decision(Verdict.review, 0.4, ["conflicting evidence: cancelled and also marked otherwise",
                                                   *absent, *ev.soft_attendance], rules, ignored)
        cancelled_at = min(ev.customer_cancel)
        notice = appt.start - cancelled_at
        if notice < timedelta(hours=rules.late_cancel_window_hours):
            hours = notice.total_seconds() / 3600
            when = f"{hours:.1f} h before start" if hours >= 0 else f"{-hours:.1f} h after the start"
            return _decision(
                Verdict.late_cancel, 0.95,
                [f"cancelled {when} (late-cancel window {rules.late_cancel_window_hours:g} h)"], rules, ignored,
            )
        return _decision(
            Verdict.cancelled, 0.95,
            [f"cancelled {notice.total_seconds() / 3600:.1f} h before start "
             f"(window {rules.late_cancel_window_hours:g} h)"], rules, ignored,
        )
    if ev.soft_attendance:
        return _decision(Verdict.review, 0.5,
                         ["a sign of attendance blocks an automated no-show", *ev.soft_attendance, *absent],
                         rules, ignored)
    if ev.absent:
        if inp.now < appt.start:
            return _decision(Verdict.review, 0.3, ["no-show reported before the appointment started", *absent],
                             rules, ignored)
        return _decision(Verdict.no_show, _combine([w for _, w in ev.absent]), absent, rules, ignored)
    if inp.now < appt.end + timedelta(minutes=rules.grace_minutes):
        return _decision(Verdict.review, 0.0, ["appointment has not ended yet (end + grace period)"], rules, ignored)
    if rules.require_positive_no_show_evidence:
        return _decision(Verdict.review, 0.3,
                         ["no attendance evidence either way; the policy requires positive no-show evidence"],
                         rules, ignored)
    return _decision(Verdict.no_show, rules.no_evidence_confidence,
                     ["no sign of attendance after the grace period"], rules, ignored)
