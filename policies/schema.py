"""The approved rules, as pydantic models. A policy file (YAML) validates into `PolicyFile`.

Everything the engine decides reads one of these models; nothing decision-relevant is a code constant.
The only exceptions are legal floors (federal calling hours, state windows in `send_rules`), which a
policy may tighten but never loosen.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from domain.models import CaseKind, Channel, SignalKind
from policies.experiments import Experiment
from policies.zones import is_zone_name, zone_of


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- small validated types

_HHMM = re.compile(r"^(\d{2}):(\d{2})$")


def _check_hhmm(value: str) -> str:
    m = _HHMM.match(value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{value!r} is not a time of day as \"HH:MM\" (00:00 to 23:59)")
    return value


def _check_timezone(value: str) -> str:
    if not is_zone_name(value):
        raise ValueError(f"{value!r} is not an IANA time zone name (for example America/New_York)")
    if zone_of(value) is None:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/Chicago)")
    return value


def _check_subdivision(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", value):
        raise ValueError(f"{value!r} is not an ISO 3166-2 subdivision code such as US-FL")
    return value


HHMM = Annotated[str, AfterValidator(_check_hhmm)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Subdivision = Annotated[str, AfterValidator(_check_subdivision)]


def minutes_of(value: str) -> int:
    """Minutes after midnight of a validated "HH:MM"."""
    h, m = value.split(":")
    return int(h) * 60 + int(m)


class Segment(StrEnum):
    first_time = "first_time"
    repeat = "repeat"
    high_value = "high_value"
    # confirmed the appointment, then did not come: a different conversation than a forgotten one
    confirmed_missed = "confirmed_missed"


class Purpose(StrEnum):
    informational = "informational"
    marketing = "marketing"


class SourceRule(Rule):
    """An approved appointment source. Anything not matched here is ignored and counted."""

    source: str = Field(min_length=1)
    calendars: list[str] = Field(default_factory=lambda: ["*"])
    appointment_types: list[str] = Field(default_factory=lambda: ["*"])
    ignore_calendars: list[str] = Field(default_factory=list)
    ignore_types: list[str] = Field(default_factory=list)
    ignore_private: bool = True


class ProgramMatch(Rule):
    sources: list[str] = Field(default_factory=lambda: ["*"])
    appointment_types: list[str] = Field(default_factory=lambda: ["*"])
    locations: list[str] = Field(default_factory=lambda: ["*"])


def _default_weights() -> dict[SignalKind, float]:
    return {
        SignalKind.owner_confirmation: 0.95,
        SignalKind.check_in: 0.95,
        SignalKind.technician_report: 0.9,
        SignalKind.scheduler_status: 0.85,
        SignalKind.crm_disposition: 0.8,
        SignalKind.meeting_join: 0.85,
    }


class AttendanceRules(Rule):
    grace_minutes: int = Field(default=15, ge=0, le=24 * 60)
    late_cancel_window_hours: float = Field(default=24, ge=0)
    min_join_minutes: float = Field(default=5, ge=0)
    automate_min_confidence: float = Field(default=0.8, ge=0, le=1)
    require_positive_no_show_evidence: bool = True
    # how much one piece of evidence of each kind is worth; agreeing evidence combines as 1 - prod(1 - w)
    weights: dict[SignalKind, float] = Field(default_factory=_default_weights)
    # join data whose participant is unknown ("any") might be the host alone: it is worth this much
    unattributed_join_weight: float = Field(default=0.5, ge=0, le=1)
    # used only when require_positive_no_show_evidence is false and nothing at all was seen
    no_evidence_confidence: float = Field(default=0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _weights_in_range(self) -> AttendanceRules:
        for kind, weight in self.weights.items():
            if not 0 <= weight <= 1:
                raise ValueError(f"weights.{kind.value} must be between 0 and 1")
        return self


class LapseAction(StrEnum):
    escalate = "escalate"
    suppress = "suppress"
    proceed = "proceed"


class ReviewRules(Rule):
    sensitive_categories: list[str] = Field(default_factory=lambda: ["medical", "legal", "billing", "minor"])
    sensitive_types: list[str] = Field(default_factory=list)  # appointment-type patterns that are sensitive
    high_value_threshold: float | None = Field(default=500, ge=0)
    repeat_no_show_count: int = Field(default=2, ge=1)
    repeat_window_days: int = Field(default=90, ge=1)
    min_confidence: float = Field(default=0.8, ge=0, le=1)
    sla_minutes: int = Field(default=240, ge=1)
    reminder_minutes: list[int] = Field(default_factory=lambda: [60, 180])
    lapse_action: LapseAction = LapseAction.escalate
    review_kinds: list[CaseKind] = Field(default_factory=lambda: [CaseKind.failed_access])
    # sensitive and disputed cases may use a shorter SLA
    urgent_sla_minutes: int | None = Field(default=None, ge=1)


class Step(Rule):
    delay_minutes: int = Field(ge=0)
    template: str = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_duplicate_channels(self) -> Step:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel twice")
        return self


class Sequence(Rule):
    steps: list[Step] = Field(min_length=1)
    reply_wait_hours: float = Field(default=48, gt=0)


class Cap(Rule):
    """At most `count` messages to one contact (every case, every channel) in any rolling `hours`."""

    count: int = Field(ge=1)
    hours: int = Field(ge=1)


class SendRules(Rule):
    window_start: HHMM = "09:00"
    window_end: HHMM = "20:00"
    # state (ISO 3166-2 subdivision) -> (start, end); the stricter of this and the window applies
    state_windows: dict[Subdivision, tuple[HHMM, HHMM]] = Field(default_factory=dict)
    caps: list[Cap] = Field(default_factory=lambda: [Cap(count=3, hours=24)])
    message_ttl_hours: float = Field(default=72, gt=0)
    default_timezone: TimeZoneName = "America/New_York"
    # zones whose windows must all hold when neither the contact nor the phone number gives a time zone
    unknown_timezone_zones: list[TimeZoneName] = Field(
        default_factory=lambda: ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"],
        min_length=1,
    )
    email_respects_window: bool = False
    quiet_weekdays: list[int] = Field(default_factory=list)  # Monday = 0; no automated messages on these days
    # phone number regions (ISO 3166-1) messages may go to; None = any. Healthcare programs: ["US"].
    allowed_regions: list[str] | None = None
    # replies the customer asked for (HELP, opt-out confirmation) go at once, outside windows and caps
    exempt_purposes: list[str] = Field(default_factory=lambda: ["help", "opt_out_confirmation"])
    # try the channel the customer booked through first (a WhatsApp booking is answered on WhatsApp); the
    # contact's own preferred channel still comes before it
    prefer_booked_channel: bool = False

    @model_validator(mode="after")
    def _windows_make_sense(self) -> SendRules:
        if minutes_of(self.window_start) >= minutes_of(self.window_end):
            raise ValueError(f"window_start {self.window_start} must be before window_end {self.window_end}")
        # the federal floor is 08:00-21:00 recipient local time (47 CFR 64.1200(c)(1))
        if minutes_of(self.window_start) < 8 * 60 or minutes_of(self.window_end) > 21 * 60:
            raise ValueError("the send window must lie inside 08:00-21:00 (federal calling hours)")
        for state, (start, end) in self.state_windows.items():
            if minutes_of(start) >= minutes_of(end):
                raise ValueError(f"state_windows.{state}: start {start} must be before end {end}")
        if any(not 0 <= d <= 6 for d in self.quiet_weekdays):
            raise ValueError("quiet_weekdays are 0 (Monday) to 6 (Sunday)")
        if len(set(self.quiet_weekdays)) >= 7:
            raise ValueError("quiet_weekdays cannot cover the whole week")
        return self


class BusinessHours(Rule):
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    open: HHMM = "09:00"
    close: HHMM = "17:00"
    timezone: TimeZoneName = "America/New_York"

    @model_validator(mode="after")
    def _open_before_close(self) -> BusinessHours:
        if minutes_of(self.open) >= minutes_of(self.close):
            raise ValueError(f"open {self.open} must be before close {self.close}")
        if any(not 0 <= d <= 6 for d in self.days):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return self


class BackfillRules(Rule):
    """Offering a freed slot (a cancellation ahead of time) to the waitlist, a batch at a time."""

    enabled: bool = True
    batch_size: int = Field(default=3, ge=1, le=50)
    batch_wait_minutes: float = Field(default=30, gt=0)
    max_batches: int = Field(default=3, ge=1, le=20)
    # no new offers this close to the slot: nobody can plan for an opening that starts in minutes
    stop_before_minutes: float = Field(default=60, ge=0)


class RebookingRules(Rule):
    enabled: bool = True
    eligible_types: list[str] = Field(default_factory=lambda: ["*"])
    offer_count: int = Field(default=3, ge=1, le=10)
    hold_minutes: int = Field(default=60, ge=1)
    lead_time_hours: float = Field(default=2, ge=0)
    horizon_days: int = Field(default=14, ge=1, le=366)
    buffer_minutes: int = Field(default=0, ge=0)
    prep_minutes: int = Field(default=0, ge=0)
    capacity_per_slot: int = Field(default=1, ge=1)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    max_reschedules: int = Field(default=2, ge=0)
    owner_approval_value: float | None = None
    owner_approval_types: list[str] = Field(default_factory=list)  # appointment-type patterns
    owner_approval_prior_no_shows: int | None = Field(default=None, ge=1)  # high risk: this many or more
    route_to: Literal["same_owner", "any_owner"] = "same_owner"
    follow_new_appointment: bool = True
    max_offers_per_day: int | None = Field(default=None, ge=1)
    backfill: BackfillRules = Field(default_factory=BackfillRules)


class LeadScoreRule(Rule):
    """An optional lead-score adjustment: the numeric CRM field moves by the delta of the recovery status the
    case reaches (no_show, rebooked, unrecovered, opted_out, cancelled, attended ...), once per case and status."""

    field: str = Field(min_length=1, max_length=100)
    deltas: dict[str, float] = Field(default_factory=dict)


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
    # patterns (fnmatch, case-insensitive); a protected field is never written, even if listed writable
    protected_fields: list[str] = Field(
        default_factory=lambda: [
            "owner_notes", "owner_note*", "billing_status", "billing_*", "legal_record", "legal_*",
            "clinical_record", "clinical_*",
        ]
    )
    notes_append_only: bool = True
    note_fields: list[str] = Field(default_factory=lambda: ["customer_note", "notes"])
    # writable fields the engine may also clear (propagating an un-mark); others are never emptied
    clearable_fields: list[str] = Field(default_factory=lambda: ["risk_flag", "next_appointment", "recovery_status"])
    lead_score: LeadScoreRule | None = None
    # a timeline note per message the engine sends or fails to send, and per status the provider reports later
    # (delivered, opened, clicked, bounced ...): channel, template, status; never its text or a clicked link
    message_notes: bool = False


class ReplyRules(Rule):
    review_below_confidence: float = Field(default=0.75, ge=0, le=1)
    use_model: bool = False


class SegmentRules(Rule):
    high_value_min: float = Field(default=300, ge=0)
    repeat_min_prior_no_shows: int = Field(default=1, ge=1)


class MessageRules(Rule):
    """Linter settings for this program's messages."""

    max_sms_segments: int | None = Field(default=3, ge=1)  # healthcare programs: 1 whatever this says
    require_opt_out_on_first_sms: bool = True


class MissedCallRules(Rule):
    """A customer's call nobody answered, from a number one of this program's cases knows."""

    # a staff task ("we missed your call": call them back) in the inbox and the CRM
    call_back_task: bool = True
    # how far from the appointment's start the call may be to count as about that appointment
    within_hours: float = Field(default=12, gt=0, le=72)
    # the open case hears of the call as attendance evidence: a sign of attendance, so no automated no-show
    as_evidence: bool = True


class WatchMessage(Rule):
    """A message sent while the appointment is still ahead: the confirmation at booking."""

    template: str = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)


class Reminder(WatchMessage):
    """A reminder `before_minutes` ahead of the start. When that instant is outside the recipient's window the
    reminder goes at the last allowed instant before it, but never earlier than `earliest_minutes` ahead."""

    before_minutes: int = Field(ge=1, le=14 * 24 * 60)
    earliest_minutes: int | None = Field(default=None, ge=1)


class WatchPlan(Rule):
    confirmation: WatchMessage | None = None
    reminders: list[Reminder] = Field(default_factory=list)


class WatchRules(WatchPlan):
    """What the engine sends between a booking and the appointment (nothing unless the program says so), per
    segment when `segments` names one; replies C / R / cancel are understood while watching."""

    segments: dict[Segment, WatchPlan] = Field(default_factory=dict)


ReactivationReason = Literal["unrecovered", "rebooked_missed", "repeat_no_show"]
REACTIVATION_DEFAULT: tuple[ReactivationReason, ...] = ("unrecovered", "rebooked_missed", "repeat_no_show")


class MailchimpAudience(Rule):
    """The reactivation list kept in Mailchimp too: a tag on the audience member, or a Customer Journey step
    triggered for them (one of the two). Ids and the tag are the account's, never a customer's details."""

    list_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,40}$")
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    journey_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    step_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")

    @model_validator(mode="after")
    def _tag_or_journey(self) -> MailchimpAudience:
        tagged, journey = bool(self.list_id and self.tag), bool(self.journey_id and self.step_id)
        if tagged == journey or (not tagged and (self.list_id or self.tag)) or (not journey and (
                self.journey_id or self.step_id)):
            raise ValueError("name list_id + tag, or journey_id + step_id")
        return self


class ReactivationRules(Rule):
    """After the case: who goes to the reactivation list, and where that list lives."""

    include: list[ReactivationReason] = Field(default_factory=lambda: list(REACTIVATION_DEFAULT))
    crm_field: str | None = Field(default=None, max_length=100)  # the CRM list/tag field written at close
    crm_value: str = Field(default="reactivation", max_length=100)
    mailchimp: MailchimpAudience | None = None  # added to it when the CRM field is written

    @model_validator(mode="after")
    def _mailchimp_follows_the_crm_list(self) -> ReactivationRules:
        if self.mailchimp is not None and self.crm_field is None:
            raise ValueError("mailchimp needs crm_field: the member is added when that field is written")
        return self


class PaymentHandoff(Rule):
    """Where a reply about a fee, deposit, charge or refund goes: the program's payment link, sent in an approved
    template, or a staff task (CRM task and staff inbox) with an approved "someone will follow up" answer. The
    case never states or argues an amount."""

    link_url: str | None = Field(default=None, max_length=500, pattern=r"^https://\S+$")
    staff_task: bool = False
    link_template: str = "payment_link"  # carries {payment_link}
    followup_template: str = "payment_followup"

    @model_validator(mode="after")
    def _one_hand_off(self) -> PaymentHandoff:
        if (self.link_url is None) == (not self.staff_task):
            raise ValueError("name exactly one hand-off: link_url (an https address) or staff_task: true")
        return self

    @property
    def template(self) -> str:
        return self.link_template if self.link_url else self.followup_template


class InvoiceRules(Rule):
    """An accounting source's invoices (QuickBooks Online): which line items are appointments (item names as the
    account names its services, fnmatch, case-insensitive), and what a voided one does: open a staff task, or
    start a case as a cancellation."""

    services: list[str] = Field(min_length=1)
    voided: Literal["staff_task", "case"] = "staff_task"


class Program(Rule):
    name: str = Field(min_length=1)
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
    messages: MessageRules = Field(default_factory=MessageRules)
    reviewers: list[str] = Field(default_factory=list)
    # an A/B/holdout test of messages or sequences; cases are assigned deterministically inside the workflow
    experiment: Experiment | None = None
    watch: WatchRules = Field(default_factory=WatchRules)
    # value per appointment-type pattern when a source sends no price, so revenue at risk is never silently 0
    default_values: dict[str, float] = Field(default_factory=dict)
    reactivation: ReactivationRules = Field(default_factory=ReactivationRules)
    payments: PaymentHandoff | None = None  # None: money questions go to a person like any other question
    invoices: InvoiceRules | None = None  # None: invoices from an accounting source are no appointments here
    missed_calls: MissedCallRules = Field(default_factory=MissedCallRules)

    @model_validator(mode="after")
    def _first_time_sequence_required(self) -> Program:
        if Segment.first_time not in self.sequences:
            raise ValueError("sequences must define at least 'first_time'")
        return self


class Template(Rule):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    version: int = Field(default=1, ge=1)
    channel: Channel
    locale: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    purpose: Purpose = Purpose.informational
    subject: str | None = None
    body: str = Field(min_length=1)
    approved: bool = False
    approved_by: str | None = None
    approved_at: datetime | None = None
    # lint codes an approver explicitly accepted for this template (e.g. fee_billing for a fee notice the
    # business approved). Shaming, threats, PHI in SMS and opt-out rules can never be waived.
    lint_exceptions: list[str] = Field(default_factory=list)
    # WhatsApp only: the Twilio Content template (HX...) approved by WhatsApp, the only thing that may be sent
    # outside the 24 h customer-service window, and the variables filling its {{1}}, {{2}}, ... in that order
    content_sid: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    content_variables: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _approval_has_approver(self) -> Template:
        if self.approved and not self.approved_by:
            raise ValueError("an approved template must name its approver (approved_by)")
        if (self.content_sid or self.content_variables) and self.channel != Channel.whatsapp:
            raise ValueError("content_sid and content_variables are for WhatsApp templates only")
        if self.content_variables and not self.content_sid:
            raise ValueError("content_variables need the content_sid they fill")
        return self


class OptOutScope(Rule):
    """Which other addresses a STOP or an unsubscribe (an opt-out of every channel) reaches; see
    policies/consent_links.py for the linking rule."""

    # the addresses one booking carried with it: the same person's phone and email
    linked_addresses: bool = True
    # also when the address is shared by people the engine cannot tell apart (a family phone booked with
    # different emails); off, the contacts that used the address are opted out but not the other addresses
    shared_addresses: bool = False


class PolicyFile(Rule):
    version: str = Field(min_length=1, max_length=64)
    approved_by: str | None = None
    sources: list[SourceRule] = Field(min_length=1)
    programs: list[Program] = Field(min_length=1)
    templates: list[Template] = Field(default_factory=list)
    help_text: str = "Reply STOP to opt out. For help contact the office."
    opt_out_confirmation: str = "You are unsubscribed and will receive no more messages. Reply START to resubscribe."
    opt_out_clarification: str = "Reply STOP to stop all texts from us."
    opt_out: OptOutScope = Field(default_factory=OptOutScope)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> PolicyFile:
        # the loader runs the same checks itself so that each problem gets its own file:line
        if isinstance(info.context, dict) and info.context.get("defer_cross_checks"):
            return self
        problems = cross_check(self)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(str(p) for p in loc)}: {msg}" for loc, msg in problems))
        return self


def cross_check(policy: PolicyFile) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems that span several parts of a policy, each with the location (field path) it is about."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[tuple[str, str, str, int], int] = {}
    for i, t in enumerate(policy.templates):
        key = (t.id, t.channel.value, t.locale.lower(), t.version)
        if key in seen:
            problems.append(
                (("templates", i, "id"),
                 f"duplicate template {t.id!r} {t.channel.value}/{t.locale} version {t.version} "
                 f"(already defined as templates.{seen[key]})")
            )
        else:
            seen[key] = i
    approved = {(t.id, t.channel) for t in policy.templates if t.approved}
    known = {t.id for t in policy.templates}
    names: dict[str, int] = {}
    for p_index, program in enumerate(policy.programs):
        if program.name in names:
            problems.append(((("programs", p_index, "name")), f"duplicate program name {program.name!r}"))
        names.setdefault(program.name, p_index)
        for segment, sequence in program.sequences.items():
            for s_index, step in enumerate(sequence.steps):
                loc: tuple[str | int, ...] = (
                    "programs", p_index, "sequences", segment.value, "steps", s_index, "template"
                )
                if step.template not in known:
                    problems.append((loc, f"template {step.template!r} does not exist"))
                elif not any((step.template, ch) in approved for ch in step.channels):
                    channels = ", ".join(ch.value for ch in step.channels)
                    problems.append((loc, f"template {step.template!r} is not approved for any of: {channels}"))
        problems.extend(_watch_problems(program.watch, p_index, known, approved))
        if program.payments is not None:
            wanted = program.payments.template
            loc_p: tuple[str | int, ...] = ("programs", p_index, "payments")
            if wanted not in known:
                problems.append((loc_p, f"template {wanted!r} does not exist"))
            elif not any((wanted, ch) in approved for ch in (Channel.sms, Channel.email)):
                problems.append((loc_p, f"template {wanted!r} is not approved for sms or email"))
        score = program.crm.lead_score
        if score is not None and score.field.lower() not in {f.lower() for f in program.crm.writable_fields}:
            problems.append((("programs", p_index, "crm", "lead_score", "field"),
                             f"lead score field {score.field!r} is not in writable_fields"))
        overlap = set(f.lower() for f in program.crm.writable_fields) & set(
            f.lower() for f in program.crm.protected_fields
        )
        if overlap:
            problems.append(
                (("programs", p_index, "crm", "writable_fields"),
                 "fields cannot be both writable and protected: " + ", ".join(sorted(overlap)))
            )
    return problems


def _watch_problems(watch: WatchRules, p_index: int, known: set[str], approved: set[tuple[str, Channel]]
                    ) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    plans: list[tuple[tuple[str | int, ...], WatchPlan]] = [(("programs", p_index, "watch"), watch)]
    plans += [(("programs", p_index, "watch", "segments", seg.value), plan) for seg, plan in watch.segments.items()]
    for base, plan in plans:
        messages: list[tuple[tuple[str | int, ...], WatchMessage]] = []
        if plan.confirmation is not None:
            messages.append(((*base, "confirmation", "template"), plan.confirmation))
        messages += [((*base, "reminders", i, "template"), r) for i, r in enumerate(plan.reminders)]
        for loc, message in messages:
            if message.template not in known:
                problems.append((loc, f"template {message.template!r} does not exist"))
            elif not any((message.template, ch) in approved for ch in message.channels):
                channels = ", ".join(ch.value for ch in message.channels)
                problems.append((loc, f"template {message.template!r} is not approved for any of: {channels}"))
    return problems


class ResolvedProgram(Rule):
    """What a case carries for its whole life: the program and templates of the version it started with."""

    policy_version: str
    program: Program
    templates: list[Template]
    help_text: str
    opt_out_confirmation: str
    # the one-time answer to a reply that has an opt-out word inside other words (FCC 24-24 allows one
    # clarification): nothing is revoked until the customer answers STOP
    opt_out_clarification: str = "Reply STOP to stop all texts from us."


def field_names() -> set[str]:
    """Every field name any policy model knows, for "did you mean" hints."""
    out: set[str] = set()
    models: list[Any] = [
        PolicyFile, SourceRule, Program, ProgramMatch, AttendanceRules, ReviewRules, SegmentRules, Sequence, Step,
        SendRules, Cap, RebookingRules, BusinessHours, CrmRules, ReplyRules, MessageRules, Template,
        WatchRules, WatchMessage, Reminder, ReactivationRules, LeadScoreRule,
    ]
    for model in models:
        out.update(model.model_fields)
    return out
