"""Fuse attendance evidence into a verdict. Any sign of attendance blocks an automated no-show."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.models import Appointment, AttendanceSignal, SignalKind, Verdict
from policies.schema import AttendanceRules


class AttendanceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment: Appointment
    signals: list[AttendanceSignal] = Field(default_factory=list)
    now: datetime
    rules: AttendanceRules = Field(default_factory=AttendanceRules)


class AttendanceDecision(BaseModel):
    verdict: Verdict
    confidence: float
    reasons: list[str]
    needs_review: bool


_NO_SHOW_VALUES = {"no_show", "noshow", "no-show", "absent", "missed"}
_ATTENDED_VALUES = {"attended", "completed", "showed", "show", "arrived", "checked_in", "present"}
_CANCEL_VALUES = {"cancelled", "canceled"}
_RESCHEDULE_VALUES = {"rescheduled"}


def _norm(value: str | None) -> str:
    return (value or "").strip().lower().replace(" ", "_")


def decide(inp: AttendanceInput) -> AttendanceDecision:
    appt, rules = inp.appointment, inp.rules
    attended: list[str] = []
    absent: list[str] = []
    cancelled_at: datetime | None = None
    rescheduled = False
    review: list[str] = []

    for s in inp.signals:
        v = _norm(s.value)
        if s.kind == SignalKind.dispute:
            review.append(f"customer disputes the no-show ({s.source})")
        elif s.kind == SignalKind.running_late:
            review.append(f"customer said they were running late ({s.source})")
        elif s.kind == SignalKind.check_in:
            attended.append(f"checked in ({s.source})")
        elif s.kind == SignalKind.meeting_join:
            if s.joined and s.participant != "host":
                minutes = s.minutes or 0.0
                if minutes >= rules.min_join_minutes:
                    attended.append(f"joined the meeting for {minutes:g} min ({s.source})")
                else:
                    review.append(f"joined the meeting for only {minutes:g} min ({s.source})")
            elif s.joined is False and s.participant != "host":
                absent.append(f"meeting data shows the guest never joined ({s.source})")
        elif s.kind == SignalKind.cancellation:
            cancelled_at = s.at if cancelled_at is None else min(cancelled_at, s.at)
        elif s.kind == SignalKind.reschedule:
            rescheduled = True
        elif s.kind in (
            SignalKind.scheduler_status,
            SignalKind.crm_disposition,
            SignalKind.owner_confirmation,
            SignalKind.technician_report,
        ):
            label = f"{s.kind.value}={v} ({s.source})"
            if v in _NO_SHOW_VALUES or v == "failed_access":
                absent.append(label)
            elif v in _ATTENDED_VALUES:
                attended.append(label)
            elif v in _CANCEL_VALUES:
                cancelled_at = s.at if cancelled_at is None else min(cancelled_at, s.at)
            elif v in _RESCHEDULE_VALUES:
                rescheduled = True

    if review:
        return AttendanceDecision(verdict=Verdict.review, confidence=0.5, reasons=review, needs_review=True)
    if attended and absent:
        return AttendanceDecision(
            verdict=Verdict.review,
            confidence=0.4,
            reasons=["conflicting evidence", *attended, *absent],
            needs_review=True,
        )
    if attended:
        return AttendanceDecision(
            verdict=Verdict.attended, confidence=min(1.0, 0.8 + 0.1 * len(attended)), reasons=attended,
            needs_review=False,
        )
    if rescheduled:
        return AttendanceDecision(
            verdict=Verdict.rescheduled, confidence=0.95, reasons=["appointment was rescheduled"], needs_review=False
        )
    if cancelled_at is not None:
        notice = appt.start - cancelled_at
        if notice < timedelta(hours=rules.late_cancel_window_hours):
            hours = max(notice.total_seconds(), 0) / 3600
            return AttendanceDecision(
                verdict=Verdict.late_cancel,
                confidence=0.95,
                reasons=[f"cancelled {hours:.1f} h before start (window {rules.late_cancel_window_hours:g} h)"],
                needs_review=False,
            )
        return AttendanceDecision(
            verdict=Verdict.cancelled, confidence=0.95, reasons=["cancelled with enough notice"], needs_review=False
        )
    if absent:
        confidence = min(1.0, 0.75 + 0.1 * len(absent))
        needs_review = confidence < rules.automate_min_confidence
        return AttendanceDecision(
            verdict=Verdict.review if needs_review else Verdict.no_show,
            confidence=confidence,
            reasons=absent if not needs_review else ["evidence too weak to automate", *absent],
            needs_review=needs_review,
        )
    if inp.now < appt.end + timedelta(minutes=rules.grace_minutes):
        return AttendanceDecision(
            verdict=Verdict.review, confidence=0.0, reasons=["appointment has not ended yet"], needs_review=True
        )
    if rules.require_positive_no_show_evidence:
        return AttendanceDecision(
            verdict=Verdict.review, confidence=0.3, reasons=["no attendance evidence either way"], needs_review=True
        )
    return AttendanceDecision(
        verdict=Verdict.no_show, confidence=0.6, reasons=["no sign of attendance after the grace period"],
        needs_review=0.6 < rules.automate_min_confidence,
    )
