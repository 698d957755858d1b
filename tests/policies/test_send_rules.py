"""Send windows, state rules, DST, caps, deferral and expiry; hypothesis searches for violations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as pn_timezone

from domain.models import Channel
from policies.schema import Cap, SendRules
from policies.send_rules import SendCheckInput, SendDecision, check_send, inspect_phone

NY, LA = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
FL_PHONE = "+13052041234"  # Miami: Florida, Eastern
OK_PHONE = "+14052041234"  # Oklahoma, Central
CT_PHONE = "+12032041234"  # Connecticut, Eastern
AZ_PHONE = "+16022041234"  # Phoenix: no DST
HI_PHONE = "+18082041234"
CA_PHONE = "+14152041234"


def at(zone: ZoneInfo, y: int, m: int, d: int, hh: int, mm: int = 0, fold: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=zone, fold=fold).astimezone(UTC)


def check(now: datetime, **kw) -> SendDecision:  # type: ignore[no-untyped-def]
    kw.setdefault("channel", Channel.sms)
    kw.setdefault("rules", SendRules())
    return check_send(SendCheckInput(now=now, **kw))


def test_inside_window_goes_now() -> None:
    d = check(at(NY, 2026, 11, 23, 10), phone=FL_PHONE, contact_timezone="America/New_York")
    assert d.allowed and d.next_allowed_at == at(NY, 2026, 11, 23, 10)


def test_before_window_defers_to_start_in_local_time() -> None:
    d = check(at(NY, 2026, 11, 23, 7, 30), phone=CT_PHONE)
    assert not d.allowed and d.next_allowed_at == at(NY, 2026, 11, 23, 9)
    assert any("outside" in r for r in d.reasons)


def test_florida_area_code_living_in_california_uses_both_windows() -> None:
    # 09:00 in LA is 12:00 in Miami; 20:00 in Miami is 17:00 in LA: the window is 12:00-20:00 Eastern
    d = check(at(NY, 2026, 11, 23, 10), phone=FL_PHONE, contact_timezone="America/Los_Angeles")
    assert d.next_allowed_at == at(LA, 2026, 11, 23, 9)
    assert set(d.zones) == {"America/Los_Angeles", "America/New_York"}
    assert "US-FL" in d.states
    late = check(at(NY, 2026, 11, 23, 20, 5), phone=FL_PHONE, contact_timezone="America/Los_Angeles")
    assert not late.allowed and late.next_allowed_at == at(LA, 2026, 11, 24, 9)


def test_state_floor_applies_even_when_policy_window_is_wider() -> None:
    wide = SendRules(window_start="08:00", window_end="21:00")
    d = check(at(ZoneInfo("America/Chicago"), 2026, 11, 23, 20, 30), phone=OK_PHONE, rules=wide)
    assert not d.allowed and d.window == "08:00-20:00"
    ct = check(at(NY, 2026, 11, 23, 8, 30), phone=CT_PHONE, rules=wide)
    assert not ct.allowed and ct.next_allowed_at == at(NY, 2026, 11, 23, 9)
    # the address says Maryland though the number is Californian
    md = check(at(LA, 2026, 11, 23, 17, 30), phone=CA_PHONE, contact_state="us-md",
               contact_timezone="America/Los_Angeles", rules=wide)
    assert md.allowed and md.window == "08:00-20:00"


def test_policy_state_window_can_be_stricter() -> None:
    rules = SendRules(state_windows={"US-FL": ("10:00", "18:00")})
    d = check(at(NY, 2026, 11, 23, 9, 30), phone=FL_PHONE, rules=rules)
    assert d.next_allowed_at == at(NY, 2026, 11, 23, 10)


def test_dst_gap_day() -> None:
    # 2026-03-08: New York skips 02:00-03:00. 08:30 EDT is 12:30 UTC, not 13:30.
    d = check(at(NY, 2026, 3, 8, 1, 30), phone=CT_PHONE)
    assert d.next_allowed_at == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert check(datetime(2026, 3, 8, 12, 59, tzinfo=UTC), phone=CT_PHONE).allowed is False
    assert check(datetime(2026, 3, 8, 13, 0, tzinfo=UTC), phone=CT_PHONE).allowed is True


def test_dst_overlap_day() -> None:
    # 2026-11-01: 01:00-02:00 happens twice in New York; 09:00 EST is 14:00 UTC
    d = check(at(NY, 2026, 11, 1, 1, 30, fold=1), phone=CT_PHONE)
    assert d.next_allowed_at == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert check(datetime(2026, 11, 2, 0, 59, tzinfo=UTC), phone=CT_PHONE).allowed  # 19:59 EST
    assert not check(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), phone=CT_PHONE).allowed  # 20:00 EST


def test_arizona_has_no_dst_and_hawaii() -> None:
    summer = check(datetime(2026, 7, 1, 15, 59, tzinfo=UTC), phone=AZ_PHONE)  # 08:59 MST
    assert not summer.allowed and summer.next_allowed_at == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    hi = check(datetime(2026, 7, 1, 18, 0, tzinfo=UTC), phone=HI_PHONE)  # 08:00 HST
    assert hi.next_allowed_at == datetime(2026, 7, 1, 19, 0, tzinfo=UTC)


def test_missing_time_zone_is_conservative() -> None:
    # no phone zone, no contact zone: 10:00 New York is 07:00 Los Angeles, too early somewhere in the US
    d = check(at(NY, 2026, 11, 23, 10), channel=Channel.email, rules=SendRules(email_respects_window=True))
    assert not d.allowed and d.next_allowed_at == at(LA, 2026, 11, 23, 9)
    assert any("unknown" in r for r in d.reasons)
    unknown_zone = check(at(NY, 2026, 11, 23, 10), channel=Channel.email, contact_timezone="Nowhere/Land",
                         rules=SendRules(email_respects_window=True))
    assert not unknown_zone.allowed


def test_email_ignores_window_unless_policy_says_so() -> None:
    night = at(NY, 2026, 11, 23, 23)
    assert check(night, channel=Channel.email, contact_timezone="America/New_York").allowed
    assert not check(night, channel=Channel.email, contact_timezone="America/New_York",
                     rules=SendRules(email_respects_window=True)).allowed


def test_caps_across_all_cases_defer_to_when_the_oldest_send_leaves_the_window() -> None:
    now = at(NY, 2026, 11, 23, 12)
    sends = [now - timedelta(hours=h) for h in (1, 2, 3)]
    d = check(now, phone=FL_PHONE, recent_sends=sends)
    assert not d.allowed and d.next_allowed_at == now - timedelta(hours=3) + timedelta(hours=24)
    assert any("cap 3 per 24 h" in r for r in d.reasons)


def test_healthcare_caps_one_a_day_three_a_week() -> None:
    rules = SendRules(caps=[Cap(count=1, hours=24), Cap(count=3, hours=168)])
    monday = at(NY, 2026, 11, 23, 10)
    d = check(monday, phone=FL_PHONE, rules=rules, recent_sends=[monday - timedelta(hours=20)])
    assert d.next_allowed_at == monday + timedelta(hours=4)
    week = [monday - timedelta(days=n) for n in (1, 2, 3)]
    d = check(monday, phone=FL_PHONE, rules=rules, recent_sends=week)
    assert d.next_allowed_at == monday - timedelta(days=3) + timedelta(days=7)


def test_cap_deferral_that_lands_outside_the_window_moves_to_next_window() -> None:
    now = at(NY, 2026, 11, 23, 19, 30)
    sends = [at(NY, 2026, 11, 22, 20, 30)] * 3  # three emails last night
    d = check(now, phone=CT_PHONE, recent_sends=sends)
    assert d.next_allowed_at == at(NY, 2026, 11, 24, 9)


def test_quiet_weekdays() -> None:
    sunday = at(NY, 2026, 11, 22, 12)
    d = check(sunday, phone=CT_PHONE, rules=SendRules(quiet_weekdays=[6]))
    assert d.next_allowed_at == at(NY, 2026, 11, 23, 9)


def test_expiry() -> None:
    created = at(NY, 2026, 11, 20, 12)
    d = check(at(NY, 2026, 11, 23, 13), phone=CT_PHONE, created_at=created)
    assert d.expired and not d.allowed and d.next_allowed_at is None
    # deferral past the expiry instant expires too, with the reason
    d = check(at(NY, 2026, 11, 23, 21), phone=CT_PHONE, created_at=at(NY, 2026, 11, 21, 0))
    assert d.expired and any("expires" in r for r in d.reasons)


def test_exempt_purposes_answer_at_once() -> None:
    night = at(NY, 2026, 11, 23, 23)
    assert check(night, phone=CT_PHONE, purpose="opt_out_confirmation").allowed
    assert not check(night, phone=CT_PHONE, purpose="transactional").allowed


@pytest.mark.parametrize(
    "phone",
    ["3052041234", "+1305204123456789", "+10305204123", "12345", "+1 555", "not a phone", "+15555555555"],
)
def test_bad_numbers_are_blocked_not_retried(phone: str) -> None:
    d = check(at(NY, 2026, 11, 23, 12), phone=phone)
    assert d.blocked and not d.allowed and d.next_allowed_at is None and d.reasons


def test_region_allow_list() -> None:
    rules = SendRules(allowed_regions=["US"])
    assert check(at(NY, 2026, 11, 23, 12), phone="+442071234567", rules=rules).blocked
    assert check(at(NY, 2026, 11, 23, 12), phone=FL_PHONE, rules=rules).allowed
    assert inspect_phone("+1 (305) 204-1234").e164 == FL_PHONE


# ---------------------------------------------------------------- properties

AREA_CODES = {
    "305": None, "850": None, "405": None, "410": None, "203": None, "415": None, "808": None, "907": None,
    "602": None, "787": None, "212": None, "312": None, "303": None, "206": None, "671": None, "915": None,
    "605": None, "208": None,
}
PHONES = [f"+1{code}2041234" for code in AREA_CODES] + ["+442071234567", "+61212345678", "+5511912345678"]
PHONES = [p for p in PHONES if phonenumbers.is_valid_number(phonenumbers.parse(p, None))]
STATE_OF = {"305": "US-FL", "850": "US-FL", "405": "US-OK", "410": "US-MD", "203": "US-CT"}
FLOORS = {"US-FL": (480, 1200), "US-OK": (480, 1200), "US-MD": (480, 1200), "US-CT": (540, 1200)}
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/",
                                                                                    "right/")))


def dst_instants() -> list[datetime]:
    out = []
    for year in (2025, 2026, 2027):
        for zone in (NY, LA, ZoneInfo("Europe/London"), ZoneInfo("Australia/Sydney"), ZoneInfo("America/Chicago")):
            t = datetime(year, 1, 1, tzinfo=UTC)
            prev = t.astimezone(zone).utcoffset()
            while t.year == year:
                t += timedelta(hours=1)
                off = t.astimezone(zone).utcoffset()
                if off != prev:
                    out.append(t)
                    prev = off
    return out


DST = dst_instants()
minute_times = st.integers(min_value=8 * 60, max_value=21 * 60)


@st.composite
def rules_strategy(draw: st.DrawFn) -> SendRules:
    start = draw(st.integers(min_value=8 * 60, max_value=20 * 60))
    end = draw(st.integers(min_value=start + 1, max_value=21 * 60))
    caps = draw(st.lists(st.builds(Cap, count=st.integers(1, 4), hours=st.sampled_from([1, 6, 24, 48, 168])),
                         max_size=2))
    quiet = draw(st.lists(st.integers(0, 6), max_size=3, unique=True))
    return SendRules(window_start=f"{start // 60:02d}:{start % 60:02d}", window_end=f"{end // 60:02d}:{end % 60:02d}",
                     caps=caps, quiet_weekdays=quiet, message_ttl_hours=24 * 14)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    if draw(st.booleans()):
        base = draw(st.sampled_from(DST))
        return base + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60)))
    return draw(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)))


def oracle_zones(contact_tz: str | None, phone: str | None, rules: SendRules) -> list[ZoneInfo]:
    zones = [contact_tz] if contact_tz else []
    if phone:
        area = [z for z in pn_timezone.time_zones_for_number(phonenumbers.parse(phone, None)) if z != "Etc/Unknown"]
        if len(area) <= 6:
            zones += area
    return [ZoneInfo(z) for z in (zones or rules.unknown_timezone_zones)]


def oracle_ok(t: datetime, rules: SendRules, zones: list[ZoneInfo], state: str | None, sends: list[datetime]) -> bool:
    start, end = (int(x[:2]) * 60 + int(x[3:]) for x in (rules.window_start, rules.window_end))
    if state in FLOORS:
        start, end = max(start, FLOORS[state][0]), min(end, FLOORS[state][1])
    for zone in zones:
        local = t.astimezone(zone)
        minutes = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
        if local.weekday() in rules.quiet_weekdays or not (start <= minutes < end):
            return False
    for cap in rules.caps:
        span = timedelta(hours=cap.hours)
        if sum(1 for s in sends if t - span < s <= t) >= cap.count:
            return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=rules_strategy(),
    now=instants(),
    phone=st.sampled_from(PHONES),
    contact_tz=st.one_of(st.none(), st.sampled_from(ZONES)),
    gaps=st.lists(st.integers(min_value=0, max_value=10 * 24 * 60), max_size=10),
)
def test_property_never_outside_window_or_over_cap(rules, now, phone, contact_tz, gaps) -> None:  # type: ignore[no-untyped-def]
    sends = [now - timedelta(minutes=g) for g in gaps]
    d = check(now, phone=phone, contact_timezone=contact_tz, rules=rules, recent_sends=sends)
    zones = oracle_zones(contact_tz, phone, rules)
    state = STATE_OF.get(phone[2:5]) if phone.startswith("+1") else None
    if d.allowed:
        assert d.next_allowed_at == now
        assert oracle_ok(now, rules, zones, state, sends)
    else:
        assert d.reasons
        assert not oracle_ok(now, rules, zones, state, sends)
        if d.next_allowed_at is not None:
            assert d.next_allowed_at > now
            assert oracle_ok(d.next_allowed_at, rules, zones, state, sends)
            # and it really is allowed when asked again at that instant
            again = check(d.next_allowed_at, phone=phone, contact_timezone=contact_tz, rules=rules,
                          recent_sends=sends)
            assert again.allowed
        else:
            assert d.blocked or d.expired


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=rules_strategy(),
    start=instants(),
    phone=st.sampled_from(PHONES),
    contact_tz=st.one_of(st.none(), st.sampled_from(ZONES)),
    waits=st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=15),
)
def test_property_a_stream_of_sends_never_breaks_a_cap(rules, start, phone, contact_tz, waits) -> None:  # type: ignore[no-untyped-def]
    """Send whenever allowed (or at the deferred instant) and check the history that results."""
    sent: list[datetime] = []
    t = start
    zones = oracle_zones(contact_tz, phone, rules)
    state = STATE_OF.get(phone[2:5]) if phone.startswith("+1") else None
    for wait in waits:
        d = check(t, phone=phone, contact_timezone=contact_tz, rules=rules, recent_sends=sent)
        if d.next_allowed_at is None:
            break
        send_at = d.next_allowed_at
        assert oracle_ok(send_at, rules, zones, state, sent)
        sent.append(send_at)
        t = send_at + timedelta(minutes=wait)
    for cap in rules.caps:
        span = timedelta(hours=cap.hours)
        for s in sent:
            assert sum(1 for x in sent if s - span < x <= s) <= cap.count
