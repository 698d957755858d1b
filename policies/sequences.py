"""Which recovery sequence a case follows, and which channel each step uses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.models import Appointment, Channel
from policies.schema import Program, Segment, Sequence, Step


def segment_for(program: Program, appointment: Appointment, prior_no_shows: int) -> Segment:
    rules = program.segments
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
    opted_out: list[Channel] = Field(default_factory=list)
    undeliverable: list[Channel] = Field(default_factory=list)
    preferred: Channel | None = None
    whatsapp_session_open: bool = False
    whatsapp_template_approved: bool = False


def channel_order(step: Step, facts: ChannelFacts) -> list[Channel]:
    """The step's channels in the order to try, keeping only those consent and deliverability allow."""
    order = list(step.channels)
    if facts.preferred in order:
        order.remove(facts.preferred)  # type: ignore[arg-type]
        order.insert(0, facts.preferred)  # type: ignore[arg-type]
    usable: list[Channel] = []
    for ch in order:
        if ch in facts.opted_out or ch in facts.undeliverable:
            continue
        if ch in (Channel.sms, Channel.whatsapp) and not facts.has_phone:
            continue
        if ch == Channel.email and not facts.has_email:
            continue
        if ch == Channel.whatsapp and not (facts.whatsapp_session_open or facts.whatsapp_template_approved):
            continue
        usable.append(ch)
    return usable
