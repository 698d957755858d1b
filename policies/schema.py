"""The approved rules, as pydantic models. A policy file (YAML) validates into `PolicyFile`.

Everything the engine decides reads one of these models; nothing decision-relevant is a code constant.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.models import CaseKind, Channel


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Segment(StrEnum):
    first_time = "first_time"
    repeat = "repeat"
    high_value = "high_value"


class Purpose(StrEnum):
    informational = "informational"
    marketing = "marketing"


class SourceRule(Rule):
    """An approved appointment source. Anything not matched here is ignored and counted."""

    source: str
    calendars: list[str] = Field(default_factory=lambda: ["*"])
    appointment_types: list[str] = Field(default_factory=lambda: ["*"])
    ignore_private: bool = True


class ProgramMatch(Rule):
    sources: list[str] = Field(default_factory=lambda: ["*"])
    appointment_types: list[str] = Field(default_factory=lambda: ["*"])
    locations: list[str] = Field(default_factory=lambda: ["*"])


class AttendanceRules(Rule):
    grace_minutes: int = Field(default=15, ge=0, le=24 * 60)
    late_cancel_window_hours: float = Field(default=24, ge=0)
    min_join_minutes: float = Field(default=5, ge=0)
    automate_min_confidence: float = Field(default=0.8, ge=0, le=1)
    require_positive_no_show_evidence: bool = True


class LapseAction(StrEnum):
    escalate = "escalate"
    suppress = "suppress"
    proceed = "proceed"


class ReviewRules(Rule):
    sensitive_categories: list[str] = Field(default_factory=lambda: ["medical", "legal", "billing", "minor"])
    high_value_threshold: float | None = Field(default=500, ge=0)
    repeat_no_show_count: int = Field(default=2, ge=1)
    repeat_window_days: int = Field(default=90, ge=1)
    min_confidence: float = Field(default=0.8, ge=0, le=1)
    sla_minutes: int = Field(default=240, ge=1)
    reminder_minutes: list[int] = Field(default_factory=lambda: [60, 180])
    lapse_action: LapseAction = LapseAction.escalate
    review_kinds: list[CaseKind] = Field(default_factory=lambda: [CaseKind.failed_access])


class Step(Rule):
    delay_minutes: int = Field(ge=0)
    template: str
    channels: list[Channel] = Field(min_length=1)


class Sequence(Rule):
    steps: list[Step] = Field(min_length=1)
    reply_wait_hours: float = Field(default=48, gt=0)


class Cap(Rule):
    count: int = Field(ge=1)
    hours: int = Field(ge=1)


class SendRules(Rule):
    window_start: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    window_end: str = Field(default="20:00", pattern=r"^\d{2}:\d{2}$")
    # state (ISO 3166-2 subdivision) -> (start, end); the stricter of this and the window applies
    state_windows: dict[str, tuple[str, str]] = Field(default_factory=dict)
    caps: list[Cap] = Field(default_factory=lambda: [Cap(count=3, hours=24)])
    message_ttl_hours: float = Field(default=72, gt=0)
    default_timezone: str = "America/New_York"
    email_respects_window: bool = False


class BusinessHours(Rule):
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    open: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    close: str = Field(default="17:00", pattern=r"^\d{2}:\d{2}$")
    timezone: str = "America/New_York"


class RebookingRules(Rule):
    enabled: bool = True
    eligible_types: list[str] = Field(default_factory=lambda: ["*"])
    offer_count: int = Field(default=3, ge=1, le=10)
    hold_minutes: int = Field(default=60, ge=1)
    lead_time_hours: float = Field(default=2, ge=0)
    horizon_days: int = Field(default=14, ge=1)
    buffer_minutes: int = Field(default=0, ge=0)
    prep_minutes: int = Field(default=0, ge=0)
    capacity_per_slot: int = Field(default=1, ge=1)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    max_reschedules: int = Field(default=2, ge=0)
    owner_approval_value: float | None = None
    route_to: Literal["same_owner", "any_owner"] = "same_owner"
    follow_new_appointment: bool = True


class CrmRules(Rule):
    writable_fields: list[str] = Field(
        default_factory=lambda: [
            "outcome",
            "missed_date",
            "recovery_status",
            "next_appointment",
            "owner_task",
            "customer_note",
            "risk_flag",
            "source_campaign",
        ]
    )
    protected_fields: list[str] = Field(
        default_factory=lambda: ["owner_notes", "billing_status", "legal_record", "clinical_record"]
    )
    notes_append_only: bool = True


class ReplyRules(Rule):
    review_below_confidence: float = Field(default=0.75, ge=0, le=1)
    use_model: bool = False


class SegmentRules(Rule):
    high_value_min: float = Field(default=300, ge=0)
    repeat_min_prior_no_shows: int = Field(default=1, ge=1)


class Program(Rule):
    name: str
    match: ProgramMatch = Field(default_factory=ProgramMatch)
    vertical: str = "general"
    recover_kinds: list[CaseKind] = Field(default_factory=lambda: list(CaseKind))
    attendance: AttendanceRules = Field(default_factory=AttendanceRules)
    review: ReviewRules = Field(default_factory=ReviewRules)
    segments: SegmentRules = Field(default_factory=SegmentRules)
    sequences: dict[Segment, Sequence]
    send: SendRules = Field(default_factory=SendRules)
    rebooking: RebookingRules = Field(default_factory=RebookingRules)
    crm: CrmRules = Field(default_factory=CrmRules)
    replies: ReplyRules = Field(default_factory=ReplyRules)
    reviewers: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _first_time_sequence_required(self) -> Program:
        if Segment.first_time not in self.sequences:
            raise ValueError("sequences must define at least 'first_time'")
        return self


class Template(Rule):
    id: str
    version: int = Field(default=1, ge=1)
    channel: Channel
    locale: str = "en"
    purpose: Purpose = Purpose.informational
    subject: str | None = None
    body: str = Field(min_length=1)
    approved: bool = False
    approved_by: str | None = None
    approved_at: datetime | None = None

    @model_validator(mode="after")
    def _approval_has_approver(self) -> Template:
        if self.approved and not self.approved_by:
            raise ValueError("an approved template must name its approver (approved_by)")
        return self


class PolicyFile(Rule):
    version: str
    approved_by: str | None = None
    sources: list[SourceRule] = Field(min_length=1)
    programs: list[Program] = Field(min_length=1)
    templates: list[Template] = Field(default_factory=list)
    help_text: str = "Reply STOP to opt out. For help contact the office."
    opt_out_confirmation: str = "You are unsubscribed and will receive no more messages. Reply START to resubscribe."


class ResolvedProgram(Rule):
    """What a case carries for its whole life: the program and templates of the version it started with."""

    policy_version: str
    program: Program
    templates: list[Template]
    help_text: str
    opt_out_confirmation: str
