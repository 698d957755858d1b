"""Which slots may be offered for a rebooking, and which rebookings need an owner's approval first.

`candidate_slots` never returns two slots that overlap each other (their buffers and prep included), nor
a slot whose window (with buffer and prep) already holds `capacity_per_slot` busy intervals, so that
holding every offered slot at once can never double-book the calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.models import Appointment
from policies.schema import RebookingRules, minutes_of
from policies.zones import zone_or


class Interval(BaseModel):
    start: datetime
    end: datetime


class SlotSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime
    duration_minutes: int = Field(gt=0, le=24 * 60)
    rules: RebookingRules
    busy: list[Interval] = Field(default_factory=list)  # existing bookings and holds on this calendar
    step_minutes: int = Field(default=30, gt=0)
    limit: int | None = Field(default=None, ge=0)


def _matches(patterns: list[str], value: str) -> bool:
    return any(fnmatchcase(value.lower(), p.lower()) for p in patterns)


def eligible(rules: RebookingRules, appointment: Appointment, reschedules_so_far: int) -> tuple[bool, str]:
    if not rules.enabled:
        return False, "rebooking is disabled for this program"
    if not _matches(rules.eligible_types, appointment.appointment_type):
        return False, f"type {appointment.appointment_type!r} is not eligible for rebooking"
    if reschedules_so_far >= rules.max_reschedules:
        return False, f"already rescheduled {reschedules_so_far} times (max {rules.max_reschedules})"
    return True, "eligible"


def owner_approval_reasons(rules: RebookingRules, appointment: Appointment, prior_no_shows: int = 0) -> list[str]:
    """Why a rebooking must wait for the calendar owner's approval (empty: it need not)."""
    reasons: list[str] = []
    if rules.owner_approval_value is not None and appointment.value >= rules.owner_approval_value:
        reasons.append(f"high value {appointment.value:g} >= {rules.owner_approval_value:g}")
    if rules.owner_approval_types and _matches(rules.owner_approval_types, appointment.appointment_type):
        reasons.append(f"appointment type {appointment.appointment_type!r} needs owner approval")
    if rules.owner_approval_prior_no_shows is not None and prior_no_shows >= rules.owner_approval_prior_no_shows:
        reasons.append(f"high risk: {prior_no_shows} prior no-shows")
    return reasons


def needs_owner_approval(rules: RebookingRules, appointment: Appointment, prior_no_shows: int = 0) -> bool:
    return bool(owner_approval_reasons(rules, appointment, prior_no_shows))


def route_owner(rules: RebookingRules, appointment: Appointment) -> str | None:
    """The calendar owner the rebooking must go to, or None when any owner may take it."""
    return appointment.owner_id if rules.route_to == "same_owner" else None


def _utc(value: datetime) -> datetime:
    # a naive busy interval is taken as UTC rather than crashing the comparison
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _blocked(start: datetime, end: datetime, busy: list[tuple[datetime, datetime]], rules: RebookingRules) -> int:
    """How many busy intervals touch the slot once prep (before) and buffer (both sides) are added."""
    pad = timedelta(minutes=rules.buffer_minutes)
    prep = timedelta(minutes=rules.prep_minutes)
    lo, hi = start - prep - pad, end + pad
    return sum(1 for b_start, b_end in busy if b_start < hi and b_end > lo)


def slot_is_bookable(search: SlotSearch, start: datetime, end: datetime) -> tuple[bool, str]:
    """The conflict check to run on live availability right before booking one slot."""
    r = search.rules
    start_u, end_u = _utc(start), _utc(end)
    if end_u <= start_u:
        return False, "slot ends before it starts"
    if start_u < search.now + timedelta(hours=r.lead_time_hours):
        return False, f"inside the {r.lead_time_hours:g} h lead time"
    if end_u > search.now + timedelta(days=r.horizon_days):
        return False, f"beyond the horizon of {r.horizon_days} days"
    bh = r.business_hours
    zone = zone_or(bh.timezone, "UTC")  # a name the policy schema validated
    day = start_u.astimezone(zone).date()
    if day.weekday() not in bh.days:
        return False, "outside business days"
    open_m, close_m = minutes_of(bh.open), minutes_of(bh.close)
    day_open = datetime(day.year, day.month, day.day, open_m // 60, open_m % 60, tzinfo=zone).astimezone(UTC)
    day_close = datetime(day.year, day.month, day.day, close_m // 60, close_m % 60, tzinfo=zone).astimezone(UTC)
    if start_u - timedelta(minutes=r.prep_minutes) < day_open or end_u > day_close:
        return False, "outside business hours (prep included)"
    busy = [(_utc(b.start), _utc(b.end)) for b in search.busy]
    if _blocked(start_u, end_u, busy, r) >= r.capacity_per_slot:
        return False, "conflicts with an existing booking or hold (buffers and prep included)"
    return True, "bookable"


def candidate_slots(search: SlotSearch) -> list[tuple[datetime, datetime]]:
    """Free slots inside business hours, after the rebooking lead time, clear of busy intervals plus buffer and prep.

    Returned slots never overlap each other (with buffer and prep), so all of them can be held at once.
    """
    r = search.rules
    bh = r.business_hours
    zone = zone_or(bh.timezone, "UTC")  # a name the policy schema validated
    duration = timedelta(minutes=search.duration_minutes)
    step = timedelta(minutes=search.step_minutes)
    prep = timedelta(minutes=r.prep_minutes)
    earliest = search.now + timedelta(hours=r.lead_time_hours)
    horizon = search.now + timedelta(days=r.horizon_days)
    limit = search.limit if search.limit is not None else r.offer_count
    busy = [(_utc(b.start), _utc(b.end)) for b in search.busy]
    out: list[tuple[datetime, datetime]] = []
    offered: list[tuple[datetime, datetime]] = []
    open_m, close_m = minutes_of(bh.open), minutes_of(bh.close)
    day = search.now.astimezone(zone).date()
    last_day = horizon.astimezone(zone).date()
    while len(out) < limit and day <= last_day:
        if day.weekday() in bh.days:
            # business hours are wall-clock times; arithmetic below runs in UTC so DST cannot bend it
            day_open = datetime(day.year, day.month, day.day, open_m // 60, open_m % 60, tzinfo=zone).astimezone(UTC)
            day_close = datetime(day.year, day.month, day.day, close_m // 60, close_m % 60, tzinfo=zone).astimezone(UTC)
            start = day_open + prep
            per_day = 0
            while start + duration <= day_close and len(out) < limit:
                if r.max_offers_per_day is not None and per_day >= r.max_offers_per_day:
                    break
                end = start + duration
                if (
                    start >= earliest
                    and end <= horizon
                    and _blocked(start, end, busy, r) < r.capacity_per_slot
                    and _blocked(start, end, offered, r) == 0
                ):
                    out.append((start.astimezone(zone), end.astimezone(zone)))
                    # the offered slots are held together: none may overlap another, buffers included
                    offered.append((start, end))
                    per_day += 1
                    # the next offer starts after this one, its buffer and the next one's prep
                    start = end
                    continue
                start += step
        day += timedelta(days=1)
    return out


def offer_open(expires_at: datetime | None, at: datetime) -> bool:
    """The one expiry rule for an offer, shared by the self-serve link (its token expires at the same instant) and
    a reply by message: open until the holds expire, closed from that instant on."""
    return expires_at is None or _utc(at) < _utc(expires_at)
