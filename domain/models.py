"""Canonical models every layer speaks: connectors produce them, workflows and policies consume them.

Kept free of I/O and of anything the Temporal sandbox would reject, so workflows can import them
through `imports_passed_through`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class CaseKind(StrEnum):
    no_show = "no_show"
    late_cancel = "late_cancel"
    customer_cancel = "customer_cancel"
    business_cancel = "business_cancel"  # the business called it off (a provider's or seller's cancellation)
    reschedule_request = "reschedule_request"
    failed_access = "failed_access"
    admin_override = "admin_override"


class Stage(StrEnum):
    watching = "watching"
    checking = "checking"
    awaiting_review = "awaiting_review"
    recovering = "recovering"
    offering = "offering"
    rebooked = "rebooked"
    following = "following"
    # terminal stages
    confirmed = "confirmed"
    rebooked_missed = "rebooked_missed"  # rebooked, and the new appointment was not kept either
    attended = "attended"
    unrecovered = "unrecovered"
    opted_out = "opted_out"
    suppressed = "suppressed"
    closed_by_reviewer = "closed_by_reviewer"
    cancelled = "cancelled"
    ignored = "ignored"


TERMINAL_STAGES = frozenset(
    {
        Stage.confirmed,
        Stage.rebooked_missed,
        Stage.attended,
        Stage.unrecovered,
        Stage.opted_out,
        Stage.suppressed,
        Stage.closed_by_reviewer,
        Stage.cancelled,
        Stage.ignored,
    }
)


class Channel(StrEnum):
    sms = "sms"
    whatsapp = "whatsapp"
    email = "email"
    push = "push"  # Web Push to the customer's browser or installed web app (RFC 8030)
    app = "app"  # the business's own app, told through its signed webhook


class Verdict(StrEnum):
    attended = "attended"
    no_show = "no_show"
    cancelled = "cancelled"
    late_cancel = "late_cancel"
    rescheduled = "rescheduled"
    review = "review"


class Contact(Model):
    """A customer. Carries PII: it only ever travels inside (encrypted) payloads, never in ids or logs."""

    contact_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    timezone: str | None = Field(default=None, max_length=64)
    locale: str = Field(default="en", max_length=16)
    preferred_channel: Channel | None = None
    is_minor: bool = False


class Appointment(Model):
    source: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_\-]+$")
    appointment_id: str = Field(min_length=1, max_length=200)
    appointment_type: str = Field(min_length=1, max_length=100)
    calendar_id: str = Field(default="default", max_length=200)
    owner_id: str | None = Field(default=None, max_length=200)
    location_id: str | None = Field(default=None, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    value: float = Field(default=0.0, ge=0, le=10_000_000)
    currency: str = Field(default="USD", max_length=3)
    contact: Contact
    private: bool = False
    categories: list[str] = Field(default_factory=list, max_length=20)
    campaign: str | None = Field(default=None, max_length=200)
    booked_via: Channel | None = None  # the channel the customer booked through, when the source says


class SignalKind(StrEnum):
    """Kinds of attendance evidence the attendance policy fuses."""

    scheduler_status = "scheduler_status"  # value: "no_show" | "attended" | "cancelled" | "active" ...
    meeting_join = "meeting_join"  # joined: bool, minutes
    crm_disposition = "crm_disposition"  # value: "no_show" | "completed" | "canceled" | "rescheduled"
    check_in = "check_in"
    cancellation = "cancellation"  # at: when the customer cancelled
    reschedule = "reschedule"
    owner_confirmation = "owner_confirmation"  # value: "no_show" | "attended"
    technician_report = "technician_report"  # value: "failed_access" | "completed"
    running_late = "running_late"
    dispute = "dispute"
    phone_call = "phone_call"  # value: "missed_call": the customer called near the appointment, nobody answered


class AttendanceSignal(Model):
    kind: SignalKind
    at: AwareDatetime
    source: str = Field(default="unknown", max_length=64)
    value: str | None = Field(default=None, max_length=64)
    joined: bool | None = None
    minutes: float | None = Field(default=None, ge=0)
    participant: Literal["guest", "host", "any"] = "any"


class EventType(StrEnum):
    booked = "appointment.booked"
    rescheduled = "appointment.rescheduled"
    cancelled = "appointment.cancelled"
    no_show = "appointment.no_show"
    attended = "appointment.attended"
    attendance_signal = "appointment.attendance_signal"
    reschedule_requested = "appointment.reschedule_requested"
    failed_access = "appointment.failed_access"
    admin_override = "appointment.admin_override"


class AppointmentEvent(Model):
    """One canonical event, whatever the provider it came from."""

    event_id: str = Field(min_length=1, max_length=200)
    type: EventType
    occurred_at: AwareDatetime
    appointment: Appointment
    signal: AttendanceSignal | None = None
    new_start: AwareDatetime | None = None
    new_end: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=1000)


class Slot(Model):
    start: datetime
    end: datetime
    calendar_id: str
    owner_id: str | None = None
    hold_id: str | None = None


class ReplyIntent(StrEnum):
    pick_slot = "pick_slot"
    reschedule = "reschedule"
    cancel = "cancel"
    opt_out = "opt_out"
    opt_in = "opt_in"
    help = "help"
    question = "question"
    dispute = "dispute"
    wrong_person = "wrong_person"
    running_late = "running_late"
    payment = "payment"  # asks about a fee, deposit, charge or refund: a hand-off, never an argument
    other = "other"


class Reply(Model):
    reply_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    text: str = Field(max_length=5000)
    received_at: AwareDatetime


class ReplyUnderstanding(Model):
    intent: ReplyIntent
    slot_index: int | None = None
    confidence: float = Field(ge=0, le=1)
    needs_review: bool
    reason: str
    # an opt-out word stood inside other words ("is the bus stop near you?"): not a revocation, but the customer
    # gets the one clarification the FCC allows ("Reply STOP to stop all texts from us")
    clarify_opt_out: bool = False


class LedgerEvent(Model):
    """One append-only fact about a case, for reporting. Opaque ids only: no names, phones or emails."""

    event_id: str = Field(min_length=1, max_length=200)  # idempotency: case id + step
    case_id: str
    type: str  # case_opened, verdict, review_requested, review_decided, message_sent, message_delivered,
    # message_failed, message_opened, message_clicked, reply_received, opt_out, slot_offered, rebooked, kept,
    # not_kept, crm_updated, case_closed, ignored
    at: datetime
    source: str
    appointment_type: str
    kind: CaseKind | None = None
    owner_id: str | None = None
    location_id: str | None = None
    channel: Channel | None = None
    template_id: str | None = None
    segment: str | None = None
    arm: str | None = None
    value: float = 0.0
    outcome: str | None = None
    reason: str | None = None
    data: dict[str, str | float | int | bool | None] = Field(default_factory=dict)
    # the policy program's name (a policy key): what the dashboard scopes an owner by. Optional so events built
    # before it existed still load; the ledger fills it from the case's other events where one has it
    program: str | None = None
