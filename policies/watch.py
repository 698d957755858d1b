"""What the engine sends while an appointment is still ahead: the confirmation at booking and the reminders, each
at an instant inside the recipient's window, on the program's channels with the customer's preferred channel
first and then the one they booked through.

Pure: the clock is an argument. The send itself still passes the live pre-send check (consent, window, caps);
planning inside the window only keeps a reminder from being deferred past the appointment it is about.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.models import Appointment, Channel
from policies import send_rules
from policies.schema import Program, Segment, WatchMessage, WatchPlan

STEP = timedelta(minutes=15)
# how far before its ideal instant a reminder may go when that instant is outside the window
DEFAULT_EARLIEST_EXTRA = timedelta(hours=12)


class PlannedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str  # the step of the message id: "confirm", "remind0" ...
    at: AwareDatetime
    template: str
    channels: list[Channel]
    kind: str  # confirmation | reminder


def plan_for(program: Program, segment: Segment) -> WatchPlan:
    return program.watch.segments.get(segment) or program.watch


def channel_order(channels: list[Channel], preferred: Channel | None, booked_via: Channel | None) -> list[Channel]:
    """The program's channels, the customer's preferred one first, then the one they booked through."""
    order = list(channels)
    for first in (booked_via, preferred):  # preferred ends up in front
        if first is not None and first in order:
            order.remove(first)
            order.insert(0, first)
    return order


def _allowed(at: datetime, channel: Channel, program: Program, appointment: Appointment) -> bool:
    # the contact's zone only (or, unknown, every zone the program lists): the phone number's area code is read
    # by the live pre-send check, as its metadata is not loaded inside a workflow; the window is asked as for
    # an email that keeps the window
    rules = program.send
    if channel != Channel.email:
        rules = rules.model_copy(update={"email_respects_window": True})
    return send_rules.check_send(send_rules.SendCheckInput(
        now=at, channel=Channel.email, rules=rules, contact_timezone=appointment.contact.timezone)).allowed


def inside_window_at_or_before(target: datetime, earliest: datetime, channel: Channel, program: Program,
                               appointment: Appointment) -> datetime | None:
    """The latest instant in [earliest, target], on a 15-minute grid back from target, inside the window."""
    at = target
    while at >= earliest:
        if _allowed(at, channel, program, appointment):
            return at
        at -= STEP
    return None


def plan(program: Program, appointment: Appointment, segment: Segment, now: datetime) -> list[PlannedMessage]:
    """The watching stage's messages in time order. A reminder whose instant has passed when the case starts
    (a late booking) is left out, as is one no window before the appointment allows; nothing is planned for an
    appointment that has begun."""
    if now >= appointment.start:
        return []
    watch = plan_for(program, segment)
    contact = appointment.contact
    out: list[PlannedMessage] = []

    def order(message: WatchMessage) -> list[Channel]:
        return channel_order(list(message.channels), contact.preferred_channel, appointment.booked_via)

    if watch.confirmation is not None:
        out.append(PlannedMessage(key="confirm", at=now, template=watch.confirmation.template,
                                  channels=order(watch.confirmation), kind="confirmation"))
    for index, reminder in enumerate(sorted(watch.reminders, key=lambda r: -r.before_minutes)):
        target = appointment.start - timedelta(minutes=reminder.before_minutes)
        if target < now:
            continue
        earliest_before = (timedelta(minutes=reminder.earliest_minutes) if reminder.earliest_minutes
                           else timedelta(minutes=reminder.before_minutes) + DEFAULT_EARLIEST_EXTRA)
        earliest = max(now, appointment.start - earliest_before)
        channels = order(reminder)
        at = inside_window_at_or_before(target, earliest, channels[0], program, appointment)
        if at is None:
            continue
        if out and at <= out[-1].at:
            continue  # squeezed onto an earlier message: one is enough
        out.append(PlannedMessage(key=f"remind{index}", at=at, template=reminder.template, channels=channels,
                                  kind="reminder"))
    return out
