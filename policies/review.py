"""Which cases a human must see before any automated outreach, and what happens when a review lapses."""

from __future__ import annotations

from fnmatch import fnmatchcase

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
    prior_no_shows_in_window: int = Field(default=0, ge=0)
    compliance_flags: list[str] = Field(default_factory=list)
    disputed: bool = False  # the customer contests the no-show (reply or signal)


class ReviewRoute(BaseModel):
    needs_review: bool
    reasons: list[str]
    sla_minutes: int
    reminder_minutes: list[int]
    lapse_action: LapseAction
    # machine-readable reason codes: unclear, low_confidence, dispute, sensitive, high_value, repeat,
    # case_kind, compliance
    codes: list[str] = Field(default_factory=list)
    priority: str = "normal"  # normal | urgent


# reasons whose review may never lapse into automated outreach: a human has to decide (design invariant 6)
_NEVER_PROCEED = {"unclear", "low_confidence", "dispute", "sensitive", "compliance", "case_kind"}
# the kinds that are a miss by the customer: the current case counts towards the repeat threshold when it is one
MISS_KINDS = {CaseKind.no_show, CaseKind.late_cancel, CaseKind.failed_access}


def _norm(value: str) -> str:
    return value.strip().lower().replace(" ", "_").replace("-", "_")


def route(inp: ReviewInput) -> ReviewRoute:
    r = inp.rules
    appt = inp.appointment
    reasons: list[str] = []
    codes: list[str] = []

    def add(code: str, reason: str) -> None:
        reasons.append(reason)
        if code not in codes:
            codes.append(code)

    if inp.attendance_needs_review:
        add("unclear", "attendance unclear: " + "; ".join(inp.attendance_reasons or ["no reason given"]))
    elif inp.attendance_confidence < r.min_confidence:
        add("low_confidence", f"low confidence {inp.attendance_confidence:.2f} < {r.min_confidence:.2f}")
    if inp.disputed or any("disput" in reason.lower() for reason in inp.attendance_reasons):
        add("dispute", "customer disputes the no-show")

    sensitive_set = {_norm(c) for c in r.sensitive_categories}
    hits = sorted({_norm(c) for c in appt.categories} & sensitive_set)
    if hits:
        add("sensitive", "sensitive category: " + ", ".join(hits))
    if appt.contact.is_minor and sensitive_set & {"minor", "minors", "child", "children"}:
        add("sensitive", "sensitive category: minor")
    if any(fnmatchcase(appt.appointment_type.lower(), p.lower()) for p in r.sensitive_types):
        add("sensitive", f"sensitive appointment type: {appt.appointment_type}")

    if r.high_value_threshold is not None and appt.value >= r.high_value_threshold:
        add("high_value", f"high value {appt.value:g} >= {r.high_value_threshold:g}")
    total = inp.prior_no_shows_in_window + (1 if inp.kind in MISS_KINDS else 0)
    if total >= r.repeat_no_show_count and inp.prior_no_shows_in_window > 0:
        add("repeat", f"repeat no-show: {total} in {r.repeat_window_days} days (threshold {r.repeat_no_show_count})")
    if inp.kind in r.review_kinds:
        add("case_kind", f"case kind {inp.kind.value} always needs review")
    for flag in inp.compliance_flags:
        add("compliance", f"compliance risk: {flag}")

    return _route(r, reasons, codes)


# reviews a case asks for on its way, by what it met: a reply only a human can answer (a dispute is the
# `dispute` code), an owner's approval before booking, a customer no approved channel could reach
MID_CASE_CODES = {"dispute", "reply", "owner_approval", "unreachable"}


def route_for(rules: ReviewRules, code: str, reason: str) -> ReviewRoute:
    """The review a running case needs for one reason: the program's SLA, reminders and lapse rule, with the
    same guards as `route` (a dispute is urgent and never lapses into outreach)."""
    if code not in MID_CASE_CODES:
        raise ValueError(f"unknown mid-case review code {code!r}")
    return _route(rules, [reason], [code])


def _route(r: ReviewRules, reasons: list[str], codes: list[str]) -> ReviewRoute:
    urgent = bool({"dispute", "sensitive", "compliance"} & set(codes))
    sla = r.urgent_sla_minutes if urgent and r.urgent_sla_minutes else r.sla_minutes
    lapse = r.lapse_action
    if lapse == LapseAction.proceed and _NEVER_PROCEED & set(codes):
        # unclear, disputed and sensitive cases get no automated outreach before a human decides
        lapse = LapseAction.escalate
        reasons = [*reasons, "lapse action 'proceed' is not allowed for this review: it escalates instead"]
    return ReviewRoute(
        needs_review=bool(codes),
        reasons=reasons,
        sla_minutes=sla,
        reminder_minutes=sorted({m for m in r.reminder_minutes if 0 < m < sla}),
        lapse_action=lapse,
        codes=codes,
        priority="urgent" if urgent else "normal",
    )
