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
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonenumberutil import is_number_type_geographical
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.models import Channel
from policies.schema import SendRules, minutes_of
from policies.zones import UTC_ZONE, zone_of

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

# US area code -> state (NANPA assigns each geographic code to one state), generated from phonenumbers' geocoder
# data by scripts/us_area_codes.py (run it with --check after upgrading phonenumbers). Importing
# phonenumbers.geocoder instead loads about 100 MB of geodata for every language into each worker.
_US_AREA_STATES = """
201NJ 202DC 203CT 205AL 206WA 207ME 208ID 209CA 210TX 212NY 213CA 214TX 215PA 216OH 217IL 218MN 219IN 220OH
223PA 224IL 225LA 227MD 228MS 229GA 231MI 234OH 235MO 239FL 240MD 248MI 251AL 252NC 253WA 254TX 256AL 260IN
262WI 267PA 269MI 270KY 272PA 274WI 276VA 279CA 281TX 283OH 301MD 302DE 303CO 304WV 305FL 307WY 308NE 309IL
310CA 312IL 313MI 314MO 315NY 316KS 317IN 318LA 319IA 320MN 321FL 323CA 324FL 325TX 326OH 327AR 329NY 330OH
331IL 332NY 334AL 336NC 337LA 339MA 341CA 346TX 347NY 350CA 351MA 352FL 353WI 360WA 361TX 363NY 364KY 369CA
380OH 385UT 386FL 401RI 402NE 404GA 405OK 406MT 407FL 408CA 409TX 410MD 412PA 413MA 414WI 415CA 417MO 419OH
423TN 424CA 425WA 430TX 432TX 434VA 435UT 440OH 442CA 443MD 445PA 447IL 448FL 458OR 463IN 464IL 469TX 470GA
472NC 475CT 478GA 479AR 480AZ 484PA 501AR 502KY 503OR 504LA 505NM 507MN 508MA 509WA 510CA 512TX 513OH 515IA
516NY 517MI 518NY 520AZ 530CA 531NE 534WI 539OK 540VA 541OR 551NJ 557MO 559CA 561FL 562CA 563IA 567OH 570PA
571VA 572OK 573MO 574IN 575NM 580OK 582PA 585NY 586MI 601MS 602AZ 603NH 605SD 606KY 607NY 608WI 609NJ 610PA
612MN 614OH 615TN 616MI 617MA 618IL 619CA 620KS 623AZ 626CA 628CA 629TN 630IL 631NY 636MO 640NJ 641IA 645FL
646NY 650CA 651MN 656FL 657CA 659AL 660MO 661CA 662MS 667MD 669CA 678GA 680NY 681WV 682TX 686VA 689FL 701ND
702NV 703VA 704NC 706GA 707CA 708IL 712IA 713TX 714CA 715WI 716NY 717PA 718NY 719CO 720CO 724PA 725NV 726TX
727FL 728FL 730IL 731TN 732NJ 734MI 737TX 738CA 740OH 743NC 747CA 748CO 754FL 757VA 760CA 762GA 763MN 765IN
769MS 770GA 771DC 772FL 773IL 774MA 775NV 779IL 781MA 785KS 786FL 801UT 802VT 803SC 804VA 805CA 806TX 808HI
810MI 812IN 813FL 814PA 815IL 816MO 817TX 818CA 820CA 821SC 826VA 828NC 830TX 831CA 832TX 835PA 838NY 839SC
840CA 843SC 845NY 847IL 848NJ 850FL 854SC 856NJ 857MA 858CA 859KY 860CT 862NJ 863FL 864SC 865TN 870AR 872IL
878PA 901TN 903TX 904FL 906MI 907AK 908NJ 909CA 910NC 912GA 913KS 914NY 915TX 916CA 917NY 918OK 919NC 920WI
925CA 928AZ 929NY 930IN 931TN 934NY 936TX 937OH 938AL 940TX 941FL 943GA 945TX 947MI 948VA 949CA 951CA 952MN
954FL 956TX 959CT 970CO 971OR 972TX 973NJ 975MO 978MA 979TX 980NC 983CO 984NC 985LA 986ID 989MI
"""
US_AREA_STATES: dict[str, str] = {item[:3]: item[3:] for item in _US_AREA_STATES.split()}

# State legal floors, in the recipient's local time: 08:00-20:00 under the Florida Telephone Solicitation Act
# (Fla. Stat. 501.059, 501.616), the Oklahoma Telephone Solicitation Act of 2022 (HB 3168) and the Maryland Stop
# the Spam Calls Act of 2023 (SB 90); 09:00-20:00 under Connecticut Public Act 23-98 (SB 1058).
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
    if num.country_code == 1 and region == "US" and is_number_type_geographical(phonenumbers.number_type(num), 1):
        code = US_AREA_STATES.get(phonenumbers.national_significant_number(num)[:3])
        state = f"US-{code}" if code else None
    return PhoneFacts(
        valid=True, e164=phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), region=region,
        zones=zones, state=state,
    )


def phone_facts(phone: str | None) -> tuple[list[str], str | None]:
    """Time zones and US state implied by a phone number's area code."""
    facts = inspect_phone(phone)
    return facts.zones, facts.state


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
    contact_zone = zone_of(inp.contact_timezone)
    if inp.contact_timezone and contact_zone is None:
        notes.append("contact time zone not recognised")
    if contact_zone is not None:
        zones.append(contact_zone)
    zones.extend(z for z in (zone_of(n) for n in phone.zones) if z is not None)
    if not zones:
        notes.append("recipient time zone unknown: every zone in unknown_timezone_zones must allow it")
        zones = [z for z in (zone_of(n) for n in rules.unknown_timezone_zones) if z is not None]
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
            candidate = naive.replace(tzinfo=zone).astimezone(UTC_ZONE)
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
