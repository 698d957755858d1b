"""Inputs, outputs and state of a case workflow and its activities: one model per call."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from domain.models import (
    Appointment,
    AppointmentEvent,
    AttendanceSignal,
    CaseKind,
    Channel,
    LedgerEvent,
    Reply,
    ReplyUnderstanding,
    Slot,
    Stage,
)
from policies.schema import ResolvedProgram, TimeZoneName
from policies.slot_preference import SlotPreference


class CaseInput(BaseModel):
    case_id: str
    contact_key: str
    kind: CaseKind
    appointment: Appointment
    resolved: ResolvedProgram
    watch: bool = True  # started at booking: wait until end + grace before checking
    experiment: str | None = None
    # whether the worker has a reply model configured, as the starter saw it; None: not said, so a policy that
    # asks for the model gets the understand_reply activity (the workflow never reads the environment)
    reply_model: bool | None = None

    def initial_stage(self) -> Stage:
        return Stage.watching if self.watch else Stage.checking


class ReviewRequest(BaseModel):
    review_id: str
    reasons: list[str]
    requested_at: datetime
    due_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    what: str


class CaseState(BaseModel):
    case_id: str
    kind: CaseKind
    stage: Stage
    policy_version: str
    program: str
    source: str
    appointment_type: str
    verdict: str | None = None
    verdict_reasons: list[str] = Field(default_factory=list)
    review: ReviewRequest | None = None
    segment: str | None = None
    arm: str | None = None
    step: int = 0
    messages_sent: int = 0
    offered: list[Slot] = Field(default_factory=list)
    booking_link: str | None = None
    # one expiry for an offer whichever way it is answered (link or reply), stated in the offer message
    offer_expires_at: datetime | None = None
    # how the customer reads times (the booking page renders them as the messages do); no PII
    reader_timezone: str | None = None
    reader_locale: str = "en"
    new_appointment_id: str | None = None
    new_appointment_start: datetime | None = None
    reschedules: int = 0
    # why the case closed, in words ("rebooked", "customer opted out" ...); the stage says how. Results of cases
    # closed before the rename say `outcome`
    close_reason: str | None = Field(default=None, validation_alias=AliasChoices("close_reason", "outcome"))
    next_action_at: datetime | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # the watching stage: none | sent (confirmation or reminder sent) | confirmed | reschedule | cancelled
    confirmation: str = "none"
    confirmed_at: datetime | None = None
    reminders_sent: int = 0


class ReviewDecision(BaseModel):
    review_id: str
    decision: Literal["approve", "reject", "edit", "suppress"]
    reviewer: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=1000)
    # edits a reviewer may make: treat as attended, or pick the sequence segment
    mark_attended: bool = False
    segment: str | None = None


class ReviewResult(BaseModel):
    accepted: bool
    stage: Stage  # the stage the case moved to once it acted on the decision
    next_action_at: datetime | None = None
    # what happens now, in words for the reviewer ("the message that failed is sent again now" ...)
    detail: str | None = None


class SlotChoice(BaseModel):
    choice_id: str
    slot_index: int = Field(ge=0)
    via: Literal["link", "reviewer", "reply"] = "link"


AdminAction = Literal["cancel", "override", "mark_no_show", "mark_attended"]


class AdminCommand(BaseModel):
    """A person changing a case by hand (CLI or admin API): who, what, why. Audited by the caller."""

    command_id: str = Field(min_length=1, max_length=200)
    action: AdminAction
    actor: str = Field(min_length=1, max_length=254)
    reason: str | None = Field(default=None, max_length=500)


class AdminResult(BaseModel):
    accepted: bool
    stage: Stage
    detail: str


class OwnerAlert(BaseModel):
    """Something the owner should hear about now: a cancellation, a high-value miss, an exception. Opaque ids and
    categorical words only (it is logged and may go to Slack)."""

    alert_id: str
    case_id: str
    owner_id: str | None
    program: str
    kind: Literal["cancellation", "high_value_miss", "exception"]
    summary: str
    value: float = 0.0
    ledger_events: list[LedgerEvent] = Field(default_factory=list)


class AuditEntry(BaseModel):
    actor: str
    action: str
    case_id: str
    detail: dict[str, str] = Field(default_factory=dict)
    audit_key: str  # idempotency: written once however often the activity retries


class DigestRequest(BaseModel):
    """The day before `until` (None: now) as a calendar day in `timezone`: midnight to midnight there."""

    until: datetime | None = None
    timezone: TimeZoneName = "UTC"


class DigestResult(BaseModel):
    owners: int
    day: str | None = None  # the ISO date the figures are for


class OptOutNotice(BaseModel):
    event_id: str
    channel: str = "*"


# ------------------------------------------------------------------ activity I/O

# LEDGER EVENTS: the workflow's own ledger events (case opened, verdict, reply received, case closed ...) ride on
# the next activity that already runs (`ledger_events` on SendRequest, CrmUpdate, ReviewNotice, ConsentChange),
# which writes them first, idempotently by event id: no record_ledger activity of its own, fewer billed actions.
# The field was called `records`: inputs scheduled before the rename still parse, and it is still written under
# that name so a worker of the previous release, picking up an activity a newer workflow scheduled, writes the
# events too. Once no such worker runs, the serialization alias (and serialize_by_alias) can go.
LEDGER_EVENTS_IN = AliasChoices("ledger_events", "records")
LEDGER_EVENTS_OUT = "records"


class EvidenceRequest(BaseModel):
    case_id: str
    contact_key: str
    appointment: Appointment
    repeat_window_days: int = 90


class Evidence(BaseModel):
    signals: list[AttendanceSignal]
    prior_no_shows: int = 0


class SendRequest(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    message_id: str  # case id + step: the idempotency key
    case_id: str
    contact_key: str
    appointment: Appointment
    resolved: ResolvedProgram
    template_id: str
    channels: list[Channel]
    variables: dict[str, str] = Field(default_factory=dict)
    first_message: bool = False
    created_at: datetime
    ledger: dict[str, str | None] = Field(default_factory=dict)  # segment, arm for reporting
    # reminder: outreach under caps like recovery, but a refusal only skips it (the case goes on watching)
    purpose: Literal["recovery", "transactional", "reminder"] = "recovery"
    # the case's kind: a template may have words of its own for it ("missed_first.customer_cancel")
    kind: CaseKind | None = None
    # case ledger events to write first (see LEDGER EVENTS)
    ledger_events: list[LedgerEvent] = Field(default_factory=list, validation_alias=LEDGER_EVENTS_IN,
                                             serialization_alias=LEDGER_EVENTS_OUT)


class SendResult(BaseModel):
    status: Literal["sent", "deferred", "blocked", "expired", "failed"]
    channel: Channel | None = None
    next_allowed_at: datetime | None = None
    reason: str
    duplicate: bool = False
    # the provider may have accepted it (the answer was lost and it cannot be looked up): counted as sent, and
    # never sent again by another channel
    ambiguous: bool = False
    # channels the consent ledger had opted out for this contact at the pre-send check ("*": all); None: not read
    opted_out: list[str] | None = None


class UnderstandRequest(BaseModel):
    case_id: str
    contact_key: str | None = None
    reply: Reply
    offered: list[datetime]
    timezone: str
    review_below: float
    use_model: bool = False
    payments: bool = False  # read money questions as `payment` (cases from before the hand-off: False)


class OfferRequest(BaseModel):
    case_id: str
    attempt: int
    appointment: Appointment
    resolved: ResolvedProgram
    exclude: list[datetime] = Field(default_factory=list)
    # what the customer asked for ("friday morning"): the offer answers it, or says plainly that nothing fits
    preference: SlotPreference | None = None


class Offer(BaseModel):
    slots: list[Slot]
    booking_link: str | None = None
    expires_at: datetime
    matches_request: bool = True  # False: nothing fitted what the customer asked for; these are the closest


class BookRequest(BaseModel):
    case_id: str
    opened_at: datetime | None = None  # when the case started: time to rebook counts from the later of this
    contact_key: str
    slot: Slot
    appointment: Appointment
    attempt: int


class BookResult(BaseModel):
    booked: bool
    appointment_id: str | None = None
    reason: str


class CrmUpdate(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    case_id: str
    step: str
    appointment: Appointment
    resolved: ResolvedProgram
    fields: dict[str, str | None]
    note: str | None = None
    owner_task: str | None = None
    ledger_events: list[LedgerEvent] = Field(default_factory=list, validation_alias=LEDGER_EVENTS_IN,
                                             serialization_alias=LEDGER_EVENTS_OUT)


class SourceTaskRequest(BaseModel):
    """A missed appointment's reschedule task in the system it came from (ids and the kind only)."""

    case_id: str
    source: str
    appointment_id: str
    kind: CaseKind


class CrmUpdateResult(BaseModel):
    written: list[str]
    refused: dict[str, str]


class ReviewNotice(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    case_id: str
    review_id: str
    reasons: list[str]
    program: str
    reminder: int = 0
    ledger_events: list[LedgerEvent] = Field(default_factory=list, validation_alias=LEDGER_EVENTS_IN,
                                             serialization_alias=LEDGER_EVENTS_OUT)


class ConsentChange(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    event_id: str
    case_id: str
    contact_key: str
    appointment: Appointment
    resolved: ResolvedProgram
    status: Literal["opted_out", "opted_in"]
    channel: Channel
    evidence: str
    at: datetime
    ledger_events: list[LedgerEvent] = Field(default_factory=list, validation_alias=LEDGER_EVENTS_IN,
                                             serialization_alias=LEDGER_EVENTS_OUT)


class ConsentConfirmation(BaseModel):
    """An opt-out confirmation the provider could not take at once: sent later by the ConfirmOptOut workflow,
    so the case can close while the provider is down. One per consent event (message id consent-<event id>)."""

    message_id: str
    case_id: str
    contact_key: str
    channel: Channel
    to: str
    subject: str | None = None
    body: str
    template_id: str


class LedgerBatch(BaseModel):
    events: list[LedgerEvent]


class FollowRequest(BaseModel):
    case_id: str
    appointment_id: str
    source: str
    appointment: Appointment


class CaseEventSignal(BaseModel):
    """Wrapper for events the API forwards: an appointment event or a customer reply."""

    event: AppointmentEvent | None = None
    reply: Reply | None = None


__all__ = ["ReplyUnderstanding"]
