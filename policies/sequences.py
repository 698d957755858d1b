"""Which recovery sequence a case follows, and which channel each step uses."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.models import Appointment, Channel
from policies.schema import Program, Purpose, Segment, Sequence, Step

WHATSAPP_SESSION = timedelta(hours=24)  # Meta's customer-service window after the customer's last message


def segment_for(program: Program, appointment: Appointment, prior_no_shows: int, confirmed: bool = False) -> Segment:
    """The recovery segment. `confirmed`: the customer confirmed the appointment, then missed it (used only when
    the program has a `confirmed_missed` sequence)."""
    rules = program.segments
    if confirmed and Segment.confirmed_missed in program.sequences:
        return Segment.confirmed_missed
    if appointment.value >= rules.high_value_min and Segment.high_value in program.sequences:
        return Segment.high_value
    if prior_no_shows >= rules.repeat_min_prior_no_shows and Segment.repeat in program.sequences:
        return Segment.repeat
    return Segment.first_time


def sequence_for(program: Program, segment: Segment) -> Sequence:
    return program.sequences.get(segment) or program.sequences[Segment.first_time]


class ChannelFacts(BaseModel):
    """What is known about a contact's reachability, read live right before a send."""

    model_config = ConfigDict(extra="forbid")

    has_phone: bool = False
    has_email: bool = False
    has_push: bool = False  # the contact has a Web Push subscription and push is configured
    has_app: bool = False  # the business's app webhook is configured
    opted_out: list[Channel] = Field(default_factory=list)
    undeliverable: list[Channel] = Field(default_factory=list)
    preferred: Channel | None = None
    booked_via: Channel | None = None  # the channel the appointment was booked through
    prefer_booked_via: bool = False  # the program's send.prefer_booked_channel
    whatsapp_session_open: bool = False
    whatsapp_template_approved: bool = False
    # alternatively the session can be computed: last inbound WhatsApp message and the current time
    whatsapp_last_inbound_at: AwareDatetime | None = None
    now: AwareDatetime | None = None
    phone_is_mobile: bool | None = None  # False: a landline cannot take SMS or WhatsApp
    # channels with stored prior express written consent; marketing messages need it
    written_consent: list[Channel] = Field(default_factory=list)


class ChannelPlan(BaseModel):
    order: list[Channel]
    skipped: dict[str, str]  # channel -> why it is not used


def whatsapp_session_open(facts: ChannelFacts, now: datetime | None = None) -> bool:
    if facts.whatsapp_session_open:
        return True
    at = now or facts.now
    last = facts.whatsapp_last_inbound_at
    return at is not None and last is not None and timedelta(0) <= at - last < WHATSAPP_SESSION


def plan_channels(step: Step, facts: ChannelFacts, purpose: Purpose = Purpose.informational) -> ChannelPlan:
    """The step's channels in the order to try (the contact's preference first, then the channel they booked
    through when the program prefers it), with the reason each other one is skipped."""
    order = list(step.channels)
    firsts = (facts.booked_via if facts.prefer_booked_via else None, facts.preferred)
    for first in firsts:  # the preferred channel ends up in front
        if first is not None and first in order:
            order.remove(first)
            order.insert(0, first)
    usable: list[Channel] = []
    skipped: dict[str, str] = {}
    for ch in order:
        why: str | None = None
        if ch in facts.opted_out:
            why = "opted out"
        elif ch in facts.undeliverable:
            why = "undeliverable"
        elif ch in (Channel.sms, Channel.whatsapp) and not facts.has_phone:
            why = "no phone number"
        elif ch in (Channel.sms, Channel.whatsapp) and facts.phone_is_mobile is False:
            why = "not a mobile number"
        elif ch == Channel.email and not facts.has_email:
            why = "no email address"
        elif ch == Channel.push and not facts.has_push:
            why = "no push subscription"
        elif ch == Channel.app and not facts.has_app:
            why = "no business app webhook"
        elif ch == Channel.whatsapp and not (whatsapp_session_open(facts) or facts.whatsapp_template_approved):
            why = "outside the WhatsApp 24 h session and no approved WhatsApp template"
        elif purpose == Purpose.marketing and ch not in facts.written_consent:
            why = "marketing needs prior express written consent on this channel"
        if why is None:
            usable.append(ch)
        else:
            skipped[ch.value] = why
    return ChannelPlan(order=usable, skipped=skipped)


def channel_order(step: Step, facts: ChannelFacts, purpose: Purpose = Purpose.informational) -> list[Channel]:
    """The step's channels in the order to try, keeping only those consent and deliverability allow."""
    return plan_channels(step, facts, purpose).order
