"""Rebooking rules: eligibility, owner approval and routing, slots that can never double-book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.rebooking import (
    Interval,
    SlotSearch,
    candidate_slots,
    eligible,
    needs_owner_approval,
    owner_approval_reasons,
    route_owner,
    slot_is_bookable,
)
from policies.schema import BusinessHours, RebookingRules

from .helpers import appt

NY = ZoneInfo("America/New_York")
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=NY)


def test_eligibility() -> None:
    rules = RebookingRules(eligible_types=["consult*"], max_reschedules=2)
    assert eligible(rules, appt(), 0) == (True, "eligible")
    assert not eligible(rules, appt(appointment_type="surgery"), 0)[0]
    assert "max 2" in eligible(rules, appt(), 2)[1]
    assert not eligible(RebookingRules(enabled=False), appt(), 0)[0]


def test_owner_approval_for_high_value_types_and_risk() -> None:
    rules = RebookingRules(owner_approval_value=1000, owner_approval_types=["implant*"],
                           owner_approval_prior_no_shows=2)
    assert not needs_owner_approval(rules, appt(value=999))
    assert needs_owner_approval(rules, appt(value=1000))
    assert needs_owner_approval(rules, appt(appointment_type="implant_consult"))
    assert owner_approval_reasons(rules, appt(), prior_no_shows=2) == ["high risk: 2 prior no-shows"]
    assert not needs_owner_approval(RebookingRules(), appt(value=10**6))


def test_owner_routing() -> None:
    a = appt(owner_id="dr-1")
    assert route_owner(RebookingRules(route_to="same_owner"), a) == "dr-1"
    assert route_owner(RebookingRules(route_to="any_owner"), a) is None


def search(**kw) -> SlotSearch:  # type: ignore[no-untyped-def]
    rules = kw.pop("rules", RebookingRules(lead_time_hours=2, buffer_minutes=15, offer_count=3))
    return SlotSearch(now=kw.pop("now", MONDAY_8AM), duration_minutes=kw.pop("duration", 60), rules=rules, **kw)


def test_slots_respect_lead_time_business_hours_and_buffers() -> None:
    busy = [Interval(start=datetime(2026, 11, 23, 10, 30, tzinfo=NY), end=datetime(2026, 11, 23, 11, 0, tzinfo=NY))]
    slots = candidate_slots(search(busy=busy))
    assert slots[0][0] == datetime(2026, 11, 23, 11, 30, tzinfo=NY)  # 10:00 lead time; 10:00 slot hits the busy one
    for start, end in slots:
        assert start >= MONDAY_8AM + timedelta(hours=2)
        assert start.astimezone(NY).hour >= 9 and end.astimezone(NY) <= end.astimezone(NY).replace(hour=17, minute=0)


def test_prep_time_and_weekends() -> None:
    rules = RebookingRules(lead_time_hours=0, prep_minutes=30, offer_count=2,
                           business_hours=BusinessHours(days=[0], open="09:00", close="12:00"))
    friday = datetime(2026, 11, 20, 8, 0, tzinfo=NY)
    slots = candidate_slots(search(now=friday, rules=rules))
    assert slots[0][0] == datetime(2026, 11, 23, 9, 30, tzinfo=NY)  # Monday, after 30 min prep
    assert all(s.weekday() == 0 for s, _ in slots)


def test_capacity_per_slot() -> None:
    busy = [Interval(start=datetime(2026, 11, 23, 10, 0, tzinfo=NY), end=datetime(2026, 11, 23, 11, 0, tzinfo=NY))]
    one = candidate_slots(search(busy=busy, rules=RebookingRules(lead_time_hours=2, capacity_per_slot=1)))
    two = candidate_slots(search(busy=busy, rules=RebookingRules(lead_time_hours=2, capacity_per_slot=2)))
    assert one[0][0] == datetime(2026, 11, 23, 11, 0, tzinfo=NY)
    assert two[0][0] == datetime(2026, 11, 23, 10, 0, tzinfo=NY)


def test_max_offers_per_day_spreads_offers() -> None:
    rules = RebookingRules(lead_time_hours=0, max_offers_per_day=1, offer_count=3)
    days = {s.date() for s, _ in candidate_slots(search(rules=rules))}
    assert len(days) == 3


def test_slot_is_bookable_is_the_pre_booking_conflict_check() -> None:
    s = search(busy=[Interval(start=datetime(2026, 11, 23, 14, 0, tzinfo=NY),
                              end=datetime(2026, 11, 23, 15, 0, tzinfo=NY))])
    ok, _ = slot_is_bookable(s, datetime(2026, 11, 23, 12, 0, tzinfo=NY), datetime(2026, 11, 23, 13, 0, tzinfo=NY))
    assert ok
    for start_h, why in ((13, "conflicts"), (9, "lead time"), (16, "business hours"), (14, "conflicts")):
        ok, reason = slot_is_bookable(s, datetime(2026, 11, 23, start_h, 30, tzinfo=NY),
                                      datetime(2026, 11, 23, start_h + 1, 30, tzinfo=NY))
        assert not ok and why in reason, (start_h, reason)
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=NY)
    assert not slot_is_bookable(s, sunday, sunday + timedelta(hours=1))[0]


def _overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime], pad: timedelta) -> bool:
    return a[0] < b[1] + pad and b[0] < a[1] + pad


@settings(max_examples=200, deadline=None)
@given(
    busy=st.lists(st.tuples(st.integers(0, 14 * 24 * 4), st.integers(1, 16)), max_size=25),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    buffer=st.integers(0, 30),
    prep=st.integers(0, 30),
    capacity=st.integers(1, 3),
    step=st.sampled_from([10, 15, 30, 60]),
    offers=st.integers(1, 10),
    now_offset=st.integers(0, 7 * 24 * 60),
)
def test_property_candidate_slots_never_double_book(busy, duration, buffer, prep, capacity, step, offers,
                                                    now_offset) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC) + timedelta(minutes=now_offset)  # spans the March DST change
    intervals = [
        Interval(start=now + timedelta(minutes=15 * q), end=now + timedelta(minutes=15 * (q + n)))
        for q, n in busy
    ]
    rules = RebookingRules(buffer_minutes=buffer, prep_minutes=prep, capacity_per_slot=capacity, offer_count=offers)
    s = SlotSearch(now=now, duration_minutes=duration, rules=rules, busy=intervals, step_minutes=step)
    slots = candidate_slots(s)
    assert len(slots) <= offers
    pad = timedelta(minutes=buffer)
    for i, slot in enumerate(slots):
        # every offered slot passes the same conflict check used right before booking
        assert slot_is_bookable(s, *slot)[0]
        start, end = slot
        assert end - start == timedelta(minutes=duration)
        window = (start - timedelta(minutes=prep), end)
        overlapping = sum(1 for b in intervals if _overlaps(window, (b.start, b.end), pad))
        assert overlapping < capacity
        for other in slots[i + 1:]:
            assert not _overlaps(window, (other[0] - timedelta(minutes=prep), other[1]), pad)
