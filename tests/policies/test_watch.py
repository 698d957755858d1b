"""The watching stage's pure decisions: when confirmation and reminders go, and what a reply means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.models import Channel
from policies.schema import Reminder, Segment, WatchMessage, WatchRules
from policies.watch import channel_order, plan
from policies.watch_replies import WatchIntent, watch_intent
from tests.helpers import appointment, default_program, fast_policy


@pytest.mark.parametrize(("text", "intent"), [
    ("C", WatchIntent.confirm), ("confirm", WatchIntent.confirm), ("Sí", WatchIntent.confirm),
    ("Confirmo, gracias", WatchIntent.confirm), ("R", WatchIntent.reschedule),
    ("can we move it to friday", WatchIntent.reschedule), ("otra hora por favor", WatchIntent.reschedule),
    ("Cancel my appointment", WatchIntent.cancel), ("no puedo ir, cancela la cita", WatchIntent.cancel),
    ("I can't make it tomorrow", WatchIntent.cancel),
    # opt-out keywords stay with the consent rules, whatever the stage
    ("cancel", None), ("CANCELAR", None), ("STOP", None), ("confirm not", None), ("what time is it", None),
])
def test_watch_intent(text: str, intent: WatchIntent | None) -> None:
    assert watch_intent(text) == intent


def test_preferred_channel_first_then_the_booking_channel() -> None:
    assert channel_order([Channel.email, Channel.sms, Channel.whatsapp], Channel.whatsapp, Channel.sms) == [
        Channel.whatsapp, Channel.sms, Channel.email]
    assert channel_order([Channel.email, Channel.sms], None, Channel.sms) == [Channel.sms, Channel.email]


def test_reminders_land_inside_the_window_and_late_bookings_skip_passed_ones() -> None:
    program = default_program(fast_policy())
    program.watch = WatchRules(
        confirmation=WatchMessage(template="appointment_confirm", channels=[Channel.sms]),
        reminders=[Reminder(before_minutes=1440, template="appointment_reminder", channels=[Channel.email]),
                   Reminder(before_minutes=60, template="appointment_reminder", channels=[Channel.sms])])
    # 08:30 New York: the hour-before reminder (07:30) is before the 09:00 window: it goes the evening before
    start = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
    appt = appointment(start=start, timezone="America/New_York", phone="+12125550100")
    now = start - timedelta(days=3)
    planned = plan(program, appt, Segment.first_time, now)
    assert [m.key for m in planned] == ["confirm", "remind0", "remind1"]
    sms = planned[2]
    assert sms.at < start - timedelta(minutes=60)
    assert sms.at.astimezone(UTC).hour <= 1  # 20:00 New York or earlier, the day before
    late = plan(program, appt, Segment.first_time, start - timedelta(hours=3))
    assert [m.kind for m in late] == ["confirmation"]  # booked three hours ahead: both reminder instants passed
    assert plan(program, appt, Segment.first_time, start + timedelta(minutes=1)) == []
