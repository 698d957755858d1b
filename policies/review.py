"""Which cases a human must see before any automated outreach, and what happens when a review lapses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.models import Appointment, CaseKind
from policies.schema import LapseAction, ReviewRules


class ReviewInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CaseKind
    appointment: Appointment
    rules: ReviewRules
    attendance_needs_review: bool = False
    attendance_confidence: float = 1.0
    attendance_reasons: list[str] = Field(default_factory=list)
    prior_no_shows_in_window: int = 0
    compliance_flags: list[str] = Field(default_factory=list)


class ReviewRoute(BaseModel):
    needs_review: bool
    reasons: list[str]
    sla_minutes: int
    reminder_minutes: list[int]
    lapse_action: LapseAction


def route(inp: ReviewInput) -> ReviewRoute:
    r = inp.rules
    reasons: list[str] = []
    if inp.attendance_needs_review:
        reasons.append("attendance unclear: " + "; ".join(inp.attendance_reasons or ["no reason given"]))
    if inp.attendance_confidence < r.min_confidence and not inp.attendance_needs_review:
        reasons.append(f"low confidence {inp.attendance_confidence:.2f} < {r.min_confidence:.2f}")
    sensitive = sorted(set(c.lower() for c in inp.appointment.categories) & set(c.lower() for c in r.sensitive_categories))
    if sensitive:
        reasons.append("sensitive category: " + ", ".join(sensitive))
    if inp.appointment.contact.is_minor and "minor" in [c.lower() for c in r.sensitive_categories]:
        reasons.append("sensitive category: minor")
    if r.high_value_threshold is not None and inp.appointment.value >= r.high_value_threshold:
        reasons.append(f"high value {inp.appointment.value:g} >= {r.high_value_threshold:g}")
    if inp.prior_no_shows_in_window + 1 >= r.repeat_no_show_count:
        reasons.append(
            f"repeat no-show: {inp.prior_no_shows_in_window + 1} in {r.repeat_window_days} days"
        )
    if inp.kind in r.review_kinds:
        reasons.append(f"case kind {inp.kind.value} always needs review")
    reasons.extend(f"compliance risk: {flag}" for flag in inp.compliance_flags)
    return ReviewRoute(
        needs_review=bool(reasons),
        reasons=reasons,
        sla_minutes=r.sla_minutes,
        reminder_minutes=sorted(m for m in r.reminder_minutes if m < r.sla_minutes),
        lapse_action=r.lapse_action,
    )
