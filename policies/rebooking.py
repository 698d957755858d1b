"""Which slots may be offered for a rebooking, and which rebookings need an owner's approval first."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.models import Appointment
from policies.schema import RebookingRules


class Interval(BaseModel):
    start: datetime
    end: datetime


class SlotSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: datetime
    duration_minutes: int = Field(gt=0)
    rules: RebookingRules
    busy: list[Interval] = Field(default_factory=list)  # existing bookings and holds on this calendar
    step_minutes: int = Field(default=30, gt=0)
    limit: int | None = None


def eligible(rules: RebookingRules, appointment: Appointment, reschedules_so_far: int) -> tuple[bool, str]:
    if not rules.enabled:
        return False, "rebooking is disabled for this program"
    if not any(fnmatchcase(appointment.appointment_type, p) for p in rules.eligible_types):
        return False, f"type {appointment.appointment_type!r} is not eligible for rebooking"
    if reschedules_so_far >= rules.max_reschedules:
        return False, f"already rescheduled {reschedules_so_far} times (max {rules.max_reschedules})"
    return True, "eligible"


def needs_owner_approval(rules: RebookingRules, appointment: Appointment) -> bool:
    return rules.owner_approval_value is not None and appointment.value >= rules.owner_approval_value


def _hm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def candidate_slots(search: SlotSearch) -> list[tuple[datetime, datetime]]:
    """Free slots inside business hours, after the lead time, clear of busy intervals plus buffer and prep."""
    r = search.rules
    bh = r.business_hours
    zone = ZoneInfo(bh.timezone)
    duration = timedelta(minutes=search.duration_minutes)
    pad = timedelta(minutes=r.buffer_minutes)
    prep = timedelta(minutes=r.prep_minutes)
    earliest = search.now + timedelta(hours=r.lead_time_hours)
    horizon = search.now + timedelta(days=r.horizon_days)
    limit = search.limit if search.limit is not None else r.offer_count
    out: list[tuple[datetime, datetime]] = []
    day = search.now.astimezone(zone).date()
    while len(out) < limit:
        day_start = datetime.combine(day, _hm(bh.open), tzinfo=zone)
        if day_start > horizon:
            break
        if day.weekday() in bh.days:
            close = datetime.combine(day, _hm(bh.close), tzinfo=zone)
            start = day_start + prep
            while start + duration <= close and len(out) < limit:
                end = start + duration
                if start >= earliest and end <= horizon:
                    overlapping = sum(
                        1 for b in search.busy if b.start < end + pad and b.end + pad > start - prep
                    )
                    if overlapping < r.capacity_per_slot:
                        out.append((start, end))
                start += timedelta(minutes=search.step_minutes)
        day += timedelta(days=1)
    return out
