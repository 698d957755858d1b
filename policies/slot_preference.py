"""The day, part of day, time or range a customer asks for ("friday morning", "after 3", "next week", "not monday",
"tues 3pm works", "el jueves por la tarde"), and which open slots answer it.

Pure: the clock and the customer's zone are arguments. Reading the words reuses the reply rules' day and time
reader (policies/replies.py), so a reply and the offer it leads to understand a day the same way.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from policies import replies
from policies.zones import UTC_ZONE, zone_of


class TimeWish(BaseModel):
    """One request: every field said narrows it."""

    model_config = ConfigDict(extra="forbid")

    weekdays: list[int] = Field(default_factory=list)
    dates: list[date] = Field(default_factory=list)
    month_days: list[tuple[int | None, int]] = Field(default_factory=list)
    hour: int | None = None
    minute: int | None = None
    meridiem: str | None = None
    part: str | None = None
    after: int | None = None
    before: int | None = None
    first_day: date | None = None  # "next week": from this day
    last_day: date | None = None

    def fits(self, local: datetime) -> bool:
        if self.first_day and local.date() < self.first_day:
            return False
        if self.last_day and local.date() > self.last_day:
            return False
        return replies.fits_when(self._when(), local)

    def day_only(self) -> TimeWish:
        return TimeWish(weekdays=self.weekdays, dates=self.dates, month_days=self.month_days,
                        first_day=self.first_day, last_day=self.last_day)

    def time_only(self) -> TimeWish:
        return TimeWish(hour=self.hour, minute=self.minute, meridiem=self.meridiem, part=self.part, after=self.after,
                        before=self.before)

    def says_day(self) -> bool:
        return bool(self.weekdays or self.dates or self.month_days or self.first_day)

    def says_time(self) -> bool:
        return any(v is not None for v in (self.hour, self.part, self.after, self.before))

    def _when(self) -> replies.When:
        return replies.When(weekdays=set(self.weekdays), dates=set(self.dates), month_days=set(self.month_days),
                            hour=self.hour, minute=self.minute, meridiem=self.meridiem, part=self.part,
                            after=self.after, before=self.before, pieces=["wish"])


class SlotPreference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wanted: list[TimeWish] = Field(default_factory=list)  # any of these ("tuesday or thursday")
    excluded: list[TimeWish] = Field(default_factory=list)  # none of these ("not monday")
    timezone: str = "UTC"

    def fits(self, start: datetime) -> bool:
        local = start.astimezone(zone_of(self.timezone) or UTC_ZONE)
        if any(x.fits(local) for x in self.excluded):
            return False
        return not self.wanted or any(w.fits(local) for w in self.wanted)


_NEXT_WEEK = re.compile(r"\b(next|following) (week|wk)\b|\bweek after\b|\b(la )?(proxima|siguiente) semana\b"
                        r"|\bsemana que viene\b")
_THIS_WEEK = re.compile(r"\b(this|esta) (week|semana)\b|\blater this week\b")


def from_reply(text: str, now: datetime, timezone: str) -> SlotPreference | None:
    """What the reply asks for, or None when it names no day, time or range."""
    zone = zone_of(timezone) or UTC_ZONE
    now_local = now.astimezone(zone)
    t = replies.prepare(text)
    wanted: list[TimeWish] = []
    excluded: list[TimeWish] = []
    for clause in t.clauses:
        for part in re.split(r"\s(?:or|o|u|either)\s", f" {clause} "):
            wish = _wish(part, now_local)
            if wish is None:
                continue
            (excluded if replies.NEGATION.search(part) else wanted).append(wish)
    if not wanted and not excluded:
        return None
    return SlotPreference(wanted=wanted, excluded=excluded, timezone=timezone)


def _wish(part: str, now_local: datetime) -> TimeWish | None:
    w = replies.parse_when(part, now_local)
    today = now_local.date()
    first = last = None
    if _NEXT_WEEK.search(part):
        first = today + timedelta(days=7 - today.weekday())
        last = first + timedelta(days=6)
    elif _THIS_WEEK.search(part):
        first, last = today, today + timedelta(days=6 - today.weekday())
    if w.empty() and first is None:
        return None
    return TimeWish(weekdays=sorted(w.weekdays), dates=sorted(w.dates), month_days=sorted(
        w.month_days, key=lambda md: (md[0] or 0, md[1])), hour=w.hour, minute=w.minute, meridiem=w.meridiem,
        part=w.part, after=w.after, before=w.before, first_day=first, last_day=last)


def choose(starts: list[datetime], preference: SlotPreference | None, count: int) -> tuple[list[int], bool]:
    """Indexes of the slots to offer, nearest first, and whether they answer the request. When nothing fits, the
    closest alternatives: the day asked for at other times, else the time of day asked for on other days, else the
    soonest."""
    order = sorted(range(len(starts)), key=lambda i: starts[i])
    if preference is None:
        return order[:count], True
    fitting = [i for i in order if preference.fits(starts[i])]
    if fitting:
        return fitting[:count], True
    for relax in (TimeWish.day_only, TimeWish.time_only):
        loose = SlotPreference(wanted=[relax(w) for w in preference.wanted], excluded=preference.excluded,
                               timezone=preference.timezone)
        if loose.wanted and all(w.says_day() or w.says_time() for w in loose.wanted):
            near = [i for i in order if loose.fits(starts[i])]
            if near:
                return near[:count], False
    left = [i for i in order if not any(x.fits(starts[i].astimezone(zone_of(preference.timezone) or UTC_ZONE))
                                        for x in preference.excluded)]
    return (left or order)[:count], False
