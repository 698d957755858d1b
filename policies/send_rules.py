"""When a message may go: the recipient's allowed window (strictest of every zone that applies), caps, expiry.

- The window holds in every zone that may be the recipient's: the contact's stored time zone and the
  zone(s) of the phone number's area code. When neither is known, every zone in the policy's
  `unknown_timezone_zones` must allow it (conservative).
- State rules apply when the area code or the contact's address is in that state; the statutory floors
  below are applied even if a policy forgets them, a policy can only make them stricter.
- Caps count every message to the contact across all cases and channels, over rolling windows.
- A message that cannot go now gets the next allowed instant; it is never dropped silently. When it can
  never go (bad number, region not allowed, expired) the decision says so with `blocked` or `expired`.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as pn_timezone
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.models import Channel
from policies.schema import SendRules, minutes_of

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
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC", "Washington DC": "DC", "Puerto Rico": "PR",
}

# Legal floors (compliance doc §1.2): FL, OK and MD end at 20:00 and start at 08:00; CT starts at 09:00.
STATUTORY_STATE_WINDOWS: dict[str, tuple[str, str]] = {
    "US-FL": ("08:00", "20:00"),
    "US-OK": ("08:00", "20:00"),
    "US-MD": ("08:00", "20:00"),
    "US-CT": ("09:00", "20:00"),
}
# a country-wide list of zones means the number is not geographic (toll-free, etc.): no area-code zone
_MAX_AREA_ZONES = 6
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MAX_ITERATIONS = 400


class SendCheckInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime
    channel: Channel
    rules: SendRules
    contact_timezone: str | None = None
    phone: str | None = None
    contact_state: str | None = None  # ISO 3166-2, e.g. "US-FL", when the address is known
    recent_sends: list[AwareDatetime] = Field(default_factory=list)  # this contact, every case and channel
    created_at: AwareDatetime | None = None
    # "recovery" and "transactional" obey windows and caps; purposes listed in rules.exempt_purposes
    # (the customer's own HELP or STOP) are answered at once
    purpose: str = "recovery"


class SendDecision(BaseModel):
    allowed: bool
    next_allowed_at: datetime | None
    expired: bool = False
    reasons: list[str]
    zones: list[str]
    blocked: bool = False  # can never go as it stands (bad or disallowed number, no possible window)
    window: str | None = None  # the effective local window, "HH:MM-HH:MM"
    states: list[str] = Field(default_factory=list)


class PhoneFacts(BaseModel):
    valid: bool
    e164: str | None = None
    region: str | None = None
    zones: list[str] = Field(default_factory=list)
    state: str | None = None
    problem: str | None = None


def inspect_phone(phone: str | None) -> PhoneFacts:
    """What a phone number says about where its owner is, and whether it can be messaged at all."""
    if not phone:
        return PhoneFacts(valid=False, problem="no phone number")
    compact = re.sub(r"[\s\-().]", "", phone)
    if not _E164.match(compact):
        return PhoneFacts(valid=False, problem="phone number is not in E.164 form (+ country code, <= 15 digits)")
    try:
        num = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        return PhoneFacts(valid=False, problem="phone number cannot be parsed")
    if not phonenumbers.is_valid_number(num):
        return PhoneFacts(valid=False, problem="phone number is not a valid number (short code or unassigned)")
    zones = [z for z in pn_timezone.time_zones_for_number(num) if z != "Etc/Unknown"]
    if len(zones) > _MAX_AREA_ZONES:
        zones = []
    region = phonenumbers.region_code_for_number(num)
    state = None
    if num.country_code == 1 and region == "US":
        desc = geocoder.description_for_number(num, "en") or ""
        name = desc.split(",")[-1].strip()
        code = US_STATE_CODES.get(name) or (name if len(name) == 2 and name.isupper() else None)
        state = f"US-{code}" if code else None
    return PhoneFacts(
        valid=True, e164=phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), region=region,
        zones=zones, state=state,
    )


def phone_facts(phone: str | None) -> tuple[list[str], str | None]:
    """Time zones and US state implied by a phone number's area code."""
    facts = inspect_phone(phone)
    return facts.zones, facts.state


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


Window = tuple[ZoneInfo, int, int]  # zone, start and end in minutes after local midnight


def _effective_window(rules: SendRules, states: list[str]) -> tuple[int, int]:
    start, end = minutes_of(rules.window_start), minutes_of(rules.window_end)
    for state in states:
        for table in (rules.state_windows, STATUTORY_STATE_WINDOWS):
            if state in table:
                s_start, s_end = table[state]
                start, end = max(start, minutes_of(s_start)), min(end, minutes_of(s_end))
    return start, end


def applicable_windows(inp: SendCheckInput) -> list[tuple[ZoneInfo, time, time]]:
    """Every (zone, start, end) the send instant must satisfy."""
    windows, _, _, _ = _resolve(inp)
    return [(z, time(s // 60, s % 60), time(e // 60, e % 60)) for z, s, e in windows]


def _resolve(inp: SendCheckInput) -> tuple[list[Window], list[str], list[str], PhoneFacts]:
    rules = inp.rules
    notes: list[str] = []
    phone = inspect_phone(inp.phone)
    states = sorted({s for s in (phone.state, (inp.contact_state or "").upper() or None) if s})
    start, end = _effective_window(rules, states)
    zones: list[ZoneInfo] = []
    contact_zone = _zone(inp.contact_timezone)
    if inp.contact_timezone and contact_zone is None:
        notes.append("contact time zone not recognised")
    if contact_zone is not None:
        zones.append(contact_zone)
    zones.extend(z for z in (_zone(n) for n in phone.zones) if z is not None)
    if not zones:
        notes.append("recipient time zone unknown: every zone in unknown_timezone_zones must allow it")
        zones = [z for z in (_zone(n) for n in rules.unknown_timezone_zones) if z is not None]
        if not zones:
            zones = [ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")]
    unique = list({z.key: z for z in zones}.values())
    return [(z, start, end) for z in unique], states, notes, phone


def _local_minutes(at: datetime, zone: ZoneInfo) -> tuple[float, int]:
    local = at.astimezone(zone)
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6, local.weekday()


def inside_window(at: datetime, windows: list[Window], quiet_weekdays: list[int]) -> bool:
    for zone, start, end in windows:
        minutes, weekday = _local_minutes(at, zone)
        if weekday in quiet_weekdays or not (start <= minutes < end):
            return False
    return True


def _next_window_instant(at: datetime, windows: list[Window], quiet: list[int]) -> datetime | None:
    if inside_window(at, windows, quiet):
        return at
    # the earliest instant inside the intersection is the start of one zone's window
    candidates: list[datetime] = []
    for zone, start, _ in windows:
        local_day = at.astimezone(zone).date()
        for offset in range(-1, 15):
            naive = datetime.combine(local_day + timedelta(days=offset), time(start // 60, start % 60))
            # a start inside a DST gap resolves (fold=0) to a real instant just after the gap
            candidate = naive.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
            if candidate > at:
                candidates.append(candidate)
    for candidate in sorted(candidates):
        if inside_window(candidate, windows, quiet):
            return candidate
    return None


def _cap_ok(at: datetime, sends: list[datetime], count: int, span: timedelta) -> bool:
    """A send at `at` keeps every rolling window of `span` that contains it under `count`."""
    ends = [at, *(s for s in sends if at <= s < at + span)]
    return all(sum(1 for s in sends if x - span < s <= x) < count for x in ends)


def _cap_next(at: datetime, sends: list[datetime], count: int, span: timedelta) -> datetime:
    for drop in sorted(s + span for s in sends if s + span > at):
        if _cap_ok(drop, sends, count, span):
            return drop
    return max(s + span for s in sends)


def check_send(inp: SendCheckInput) -> SendDecision:
    rules = inp.rules
    windows, states, notes, phone = _resolve(inp)
    zones = [z.key for z, _, _ in windows]
    start, end = (windows[0][1], windows[0][2]) if windows else (0, 0)
    window = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"

    def decision(allowed: bool, nxt: datetime | None, reasons: list[str], expired: bool = False,
                 blocked: bool = False) -> SendDecision:
        return SendDecision(allowed=allowed, next_allowed_at=nxt, expired=expired, reasons=[*reasons, *notes],
                            zones=zones, blocked=blocked, window=window, states=states)

    if inp.channel in (Channel.sms, Channel.whatsapp):
        if not phone.valid:
            return decision(False, None, [phone.problem or "phone number unusable"], blocked=True)
        if rules.allowed_regions is not None and phone.region not in rules.allowed_regions:
            return decision(False, None, [f"phone region {phone.region} is not allowed by this program"],
                            blocked=True)
    expires = inp.created_at + timedelta(hours=rules.message_ttl_hours) if inp.created_at else None
    if expires is not None and inp.now >= expires:
        return decision(False, None, [f"message expired after {rules.message_ttl_hours:g} h"], expired=True)
    if inp.purpose in rules.exempt_purposes:
        return decision(True, inp.now, [f"{inp.purpose} answers the customer: not held by windows or caps"])

    enforce_window = inp.channel != Channel.email or rules.email_respects_window
    quiet = rules.quiet_weekdays if enforce_window else []
    sends = sorted(inp.recent_sends)
    reasons: list[str] = []
    candidate = inp.now
    for _ in range(_MAX_ITERATIONS):
        moved = False
        if enforce_window:
            nxt = _next_window_instant(candidate, windows, quiet)
            if nxt is None:
                return decision(False, None, [*reasons, "no instant is inside the allowed window in every zone "
                                              f"({', '.join(zones)})"], blocked=True)
            if nxt != candidate:
                if not any(r.startswith("outside") for r in reasons):
                    reasons.append(f"outside the allowed window {window} in " + ", ".join(zones)
                                   + (" or on a quiet day" if quiet else ""))
                candidate, moved = nxt, True
        for cap in rules.caps:
            span = timedelta(hours=cap.hours)
            if not _cap_ok(candidate, sends, cap.count, span):
                label = f"frequency cap {cap.count} per {cap.hours} h reached"
                if label not in reasons:
                    reasons.append(label)
                candidate, moved = _cap_next(candidate, sends, cap.count, span), True
        if not moved:
            break
    else:
        return decision(False, None, [*reasons, "no allowed instant found"], blocked=True)
    if expires is not None and candidate >= expires:
        return decision(False, None, [*reasons, "next allowed instant is after the message expires"], expired=True)
    if candidate == inp.now:
        return decision(True, inp.now, ["inside the window and under every cap"])
    return decision(False, candidate, reasons)
