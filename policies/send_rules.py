"""When a message may go: the recipient's allowed window (strictest of every zone that applies), caps, expiry.

A message that cannot go now gets the next allowed instant; it is never dropped silently.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as pn_timezone
from pydantic import BaseModel, ConfigDict, Field

from domain.models import Channel
from policies.schema import SendRules

US_STATE_CODES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
    "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
    "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC", "Puerto Rico": "PR",
}


class SendCheckInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: datetime
    channel: Channel
    rules: SendRules
    contact_timezone: str | None = None
    phone: str | None = None
    contact_state: str | None = None  # ISO 3166-2, e.g. "US-FL", when the address is known
    recent_sends: list[datetime] = Field(default_factory=list)  # this contact, every case and channel
    created_at: datetime | None = None


class SendDecision(BaseModel):
    allowed: bool
    next_allowed_at: datetime | None
    expired: bool = False
    reasons: list[str]
    zones: list[str]


def _hm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def phone_facts(phone: str | None) -> tuple[list[str], str | None]:
    """Time zones and US state implied by a phone number's area code."""
    if not phone:
        return [], None
    try:
        num = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return [], None
    zones = [z for z in pn_timezone.time_zones_for_number(num) if z != "Etc/Unknown"]
    state = None
    if num.country_code == 1:
        desc = geocoder.description_for_number(num, "en")
        name = desc.split(",")[-1].strip() if desc else ""
        code = US_STATE_CODES.get(name) or (name if len(name) == 2 and name.isupper() else None)
        state = f"US-{code}" if code else None
    return zones, state


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def applicable_windows(inp: SendCheckInput) -> list[tuple[ZoneInfo, time, time]]:
    rules = inp.rules
    start, end = _hm(rules.window_start), _hm(rules.window_end)
    area_zones, area_state = phone_facts(inp.phone)
    for state in {s for s in (area_state, inp.contact_state) if s}:
        if state in rules.state_windows:
            s_start, s_end = rules.state_windows[state]
            start, end = max(start, _hm(s_start)), min(end, _hm(s_end))
    names = [n for n in [inp.contact_timezone, *area_zones] if n]
    zones = [z for z in (_zone(n) for n in names) if z is not None]
    if not zones:
        fallback = _zone(rules.default_timezone)
        zones = [fallback] if fallback else [ZoneInfo("America/New_York")]
    unique = {z.key: z for z in zones}
    return [(z, start, end) for z in unique.values()]


def _inside(at: datetime, windows: list[tuple[ZoneInfo, time, time]]) -> bool:
    for zone, start, end in windows:
        local = at.astimezone(zone)
        # compare wall-clock time; a DST gap simply has no local minutes in it
        if not (start <= local.time().replace(tzinfo=None) < end):
            return False
    return True


def _next_window_instant(at: datetime, windows: list[tuple[ZoneInfo, time, time]]) -> datetime | None:
    if _inside(at, windows):
        return at
    candidates: list[datetime] = []
    for zone, start, _ in windows:
        local_day = at.astimezone(zone).date()
        for offset in range(0, 9):
            day = local_day + timedelta(days=offset)
            candidate = datetime.combine(day, start, tzinfo=zone)
            # round-trip through UTC resolves non-existent local times to a real instant
            candidate = candidate.astimezone(ZoneInfo("UTC"))
            if candidate > at:
                candidates.append(candidate)
    for candidate in sorted(candidates):
        if _inside(candidate, windows):
            return candidate
    return None


def check_send(inp: SendCheckInput) -> SendDecision:
    rules = inp.rules
    reasons: list[str] = []
    windows = applicable_windows(inp)
    zones = [z.key for z, _, _ in windows]
    if inp.created_at is not None and inp.now >= inp.created_at + timedelta(hours=rules.message_ttl_hours):
        return SendDecision(
            allowed=False, next_allowed_at=None, expired=True,
            reasons=[f"message expired after {rules.message_ttl_hours:g} h"], zones=zones,
        )
    enforce_window = inp.channel != Channel.email or rules.email_respects_window
    candidate = inp.now
    for _ in range(50):
        moved = False
        if enforce_window:
            nxt = _next_window_instant(candidate, windows)
            if nxt is None:
                return SendDecision(allowed=False, next_allowed_at=None, reasons=["no allowed window found"], zones=zones)
            if nxt != candidate:
                if candidate == inp.now:
                    reasons.append("outside the allowed window in " + ", ".join(zones))
                candidate, moved = nxt, True
        for cap in rules.caps:
            span = timedelta(hours=cap.hours)
            inside = sorted(t for t in inp.recent_sends if candidate - span < t <= candidate)
            if len(inside) >= cap.count:
                freed = inside[len(inside) - cap.count] + span
                if candidate == inp.now or not any("cap" in r for r in reasons):
                    reasons.append(f"frequency cap {cap.count} per {cap.hours} h reached")
                candidate, moved = max(candidate, freed + timedelta(seconds=1)), True
        if not moved:
            break
    if inp.created_at is not None and candidate >= inp.created_at + timedelta(hours=rules.message_ttl_hours):
        return SendDecision(
            allowed=False, next_allowed_at=None, expired=True,
            reasons=[*reasons, "next allowed instant is after the message expires"], zones=zones,
        )
    if candidate == inp.now:
        return SendDecision(allowed=True, next_allowed_at=inp.now, reasons=["inside window and caps"], zones=zones)
    return SendDecision(allowed=False, next_allowed_at=candidate, reasons=reasons, zones=zones)
