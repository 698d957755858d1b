"""Sequences by segment, channel fallback by consent, preference, deliverability; WhatsApp session rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import Channel
from policies.loader import load_policy
from policies.schema import Purpose, Segment, Step
from policies.sequences import ChannelFacts, channel_order, plan_channels, segment_for, sequence_for

from .helpers import appt, default_program

SMS, EMAIL, WA = Channel.sms, Channel.email, Channel.whatsapp
STEP = Step(delay_minutes=0, template="t", channels=[WA, SMS, EMAIL])
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_segments_from_policy() -> None:
    program = default_program(load_policy())
    assert segment_for(program, appt(value=10), 0) == Segment.first_time
    assert segment_for(program, appt(value=10), 1) == Segment.repeat
    assert segment_for(program, appt(value=program.segments.high_value_min), 0) == Segment.high_value
    assert sequence_for(program, Segment.repeat) is program.sequences[Segment.repeat]
    only_first = program.model_copy(update={"sequences": {Segment.first_time: program.sequences[Segment.first_time]}})
    assert segment_for(only_first, appt(value=10**5), 3) == Segment.first_time
    assert sequence_for(only_first, Segment.high_value) is program.sequences[Segment.first_time]


def test_fallback_by_consent_and_deliverability() -> None:
    facts = ChannelFacts(has_phone=True, has_email=True, opted_out=[SMS], whatsapp_session_open=True)
    assert channel_order(STEP, facts) == [WA, EMAIL]
    facts = ChannelFacts(has_phone=True, has_email=True, undeliverable=[EMAIL])
    assert channel_order(STEP, facts) == [SMS]
    assert channel_order(STEP, ChannelFacts(has_phone=True, phone_is_mobile=False, has_email=True)) == [EMAIL]
    assert channel_order(STEP, ChannelFacts()) == []


def test_preference_goes_first() -> None:
    facts = ChannelFacts(has_phone=True, has_email=True, preferred=EMAIL)
    assert channel_order(STEP, facts) == [EMAIL, SMS]


def test_whatsapp_only_inside_session_or_with_approved_template() -> None:
    base = {"has_phone": True, "has_email": True}
    plan = plan_channels(STEP, ChannelFacts(**base))
    assert WA not in plan.order and "session" in plan.skipped["whatsapp"]
    assert WA in channel_order(STEP, ChannelFacts(**base, whatsapp_template_approved=True))
    inside = ChannelFacts(**base, whatsapp_last_inbound_at=NOW - timedelta(hours=23), now=NOW)
    outside = ChannelFacts(**base, whatsapp_last_inbound_at=NOW - timedelta(hours=25), now=NOW)
    assert channel_order(STEP, inside)[0] == WA
    assert WA not in channel_order(STEP, outside)


def test_marketing_needs_written_consent_per_channel() -> None:
    facts = ChannelFacts(has_phone=True, has_email=True, written_consent=[EMAIL])
    assert channel_order(STEP, facts, Purpose.marketing) == [EMAIL]


def test_booked_through_channel_goes_first_only_when_the_program_prefers_it() -> None:
    step = Step(delay_minutes=0, template="t", channels=[SMS, EMAIL, WA])
    facts = ChannelFacts(has_phone=True, has_email=True, whatsapp_template_approved=True, booked_via=WA)
    assert channel_order(step, facts) == [SMS, EMAIL, WA]
    preferring = facts.model_copy(update={"prefer_booked_via": True})
    assert channel_order(step, preferring) == [WA, SMS, EMAIL]
    # the contact's own preference still comes before the booking channel
    assert channel_order(step, preferring.model_copy(update={"preferred": EMAIL})) == [EMAIL, WA, SMS]
