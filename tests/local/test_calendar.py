"""The local calendar: atomic booking that cannot double-book, holds, buffers, idempotent retries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from activities.scheduling import SchedulingActivities
from connectors.contract import SlotUnavailable
from connectors.local.calendar import LocalCalendar
from connectors.local.db import IntegrityError, LocalDb
from domain.case import OfferRequest
from domain.models import EventType, Slot
from tests.helpers import appointment, event, fast_policy, resolved_of

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def slot(minutes: int = 0) -> Slot:
    start = START + timedelta(minutes=minutes)
    return Slot(start=start, end=start + timedelta(minutes=30), calendar_id="cal-1")


def test_racing_bookings_of_one_slot_give_exactly_one(db_url: str) -> None:
    calendar = LocalCalendar(LocalDb(db_url))

    def book(i: int) -> str | None:
        try:
            return calendar.book(slot(), f"case-{i}", "consultation", f"c-{i}", idempotency_key=f"k-{i}")
        except SlotUnavailable:
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(book, range(32)))
    assert len([r for r in results if r]) == 1


def test_a_retried_booking_returns_the_same_appointment(db_url: str) -> None:
    calendar = LocalCalendar(LocalDb(db_url))
    first = calendar.book(slot(), "case-1", "consultation", "c-1", idempotency_key="same")
    again = calendar.book(slot(), "case-1", "consultation", "c-1", idempotency_key="same")
    assert first == again


def test_another_cases_hold_blocks_and_buffers_apply(db_url: str) -> None:
    calendar = LocalCalendar(LocalDb(db_url), buffer_minutes=15)
    future = datetime.now(UTC) + timedelta(hours=1)
    calendar.hold(slot(), "case-a", expires_at=future)
    with pytest.raises(SlotUnavailable):
        calendar.book(slot(), "case-b", "consultation", "c-b", idempotency_key="b")
    # the holder may book its own held slot
    assert calendar.book(slot(), "case-a", "consultation", "c-a", idempotency_key="a")
    with pytest.raises(SlotUnavailable):  # 10 minutes after the end is inside the 15 minute buffer
        calendar.book(slot(40), "case-c", "consultation", "c-c", idempotency_key="c")
    assert calendar.book(slot(45), "case-d", "consultation", "c-d", idempotency_key="d")


def test_expired_holds_do_not_block(db_url: str) -> None:
    calendar = LocalCalendar(LocalDb(db_url))
    calendar.hold(slot(), "case-a", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert calendar.book(slot(), "case-b", "consultation", "c-b", idempotency_key="b")



def _hold_in_process(url: str, case_id: str, minutes: int, results: object) -> None:
    calendar = LocalCalendar(LocalDb(url))
    try:
        calendar.hold(slot(minutes), case_id, expires_at=datetime.now(UTC) + timedelta(minutes=10))
        results.put(case_id)  # type: ignore[attr-defined]
    except SlotUnavailable:
        results.put(None)  # type: ignore[attr-defined]


def test_processes_racing_to_hold_one_slot_or_overlapping_ones_get_exactly_one(db_url: str) -> None:
    import multiprocessing

    LocalDb(db_url)  # migrated once before the race
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    # the same start for six cases, and starts 10 and 20 minutes later that overlap it
    procs = [context.Process(target=_hold_in_process, args=(db_url, f"case-{i}", (i % 3) * 10, results))
             for i in range(6)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    won = [r for r in (results.get(timeout=5) for _ in procs) if r]
    assert len(won) == 1, won
    with LocalDb(db_url).connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM holds").fetchone() == (1,)


def test_the_database_refuses_a_second_hold_of_one_slot(db_url: str) -> None:
    db = LocalDb(db_url)
    LocalCalendar(db).hold(slot(), "case-a", expires_at=datetime.now(UTC) + timedelta(minutes=10))
    with pytest.raises(IntegrityError), db.connect() as conn:  # even a writer that skips the overlap check
        conn.execute("INSERT INTO holds (hold_id, calendar_id, start_at, end_at, case_id, expires_at) "
                     "VALUES ('h-x', 'cal-1', ?, ?, 'case-b', ?)",
                     (START.isoformat(), (START + timedelta(minutes=30)).isoformat(),
                      (datetime.now(UTC) + timedelta(minutes=10)).isoformat()))


def test_a_hold_keeps_the_programs_buffer_until_it_is_booked(db_url: str) -> None:
    calendar = LocalCalendar(LocalDb(db_url))
    future = datetime.now(UTC) + timedelta(minutes=10)
    pad = timedelta(minutes=20)
    calendar.hold(slot(), "case-a", expires_at=future, before=pad, after=pad)
    with pytest.raises(SlotUnavailable):  # 15 minutes after the held slot: inside its 20 minute buffer
        calendar.hold(slot(45), "case-b", expires_at=future, before=timedelta(0), after=timedelta(0))
    calendar.book(slot(60), "case-c", "consultation", "c-c", idempotency_key="c")  # clear of it
    calendar.hold(slot(300), "case-g", expires_at=future, before=pad, after=pad)
    # a booking the engine hears of lands 15 minutes after that held slot: the hold's own booking now refuses
    outside = appointment("ext-near", start=START + timedelta(minutes=345), calendar_id="cal-1")
    calendar.record_event(event(outside, EventType.booked))
    with pytest.raises(SlotUnavailable):
        calendar.book(slot(300), "case-g", "consultation", "c-g", idempotency_key="g")


def test_bookings_heard_of_by_webhook_are_busy_and_cannot_be_booked_over(db_url: str) -> None:
    calendar = LocalCalendar(LocalDb(db_url))
    appt = appointment("ext-1", start=START, calendar_id="cal-1")
    booked_at = datetime.now(UTC)
    assert calendar.record_event(event(appt, EventType.booked, at=booked_at))
    assert [(b.start, b.end) for b in calendar.busy("cal-1", START - timedelta(hours=1), START + timedelta(hours=1))] \
        == [(START, START + timedelta(minutes=30))]
    with pytest.raises(SlotUnavailable):
        calendar.hold(slot(), "case-a", expires_at=datetime.now(UTC) + timedelta(minutes=10))
    with pytest.raises(SlotUnavailable):
        calendar.book(slot(15), "case-a", "consultation", "c-a", idempotency_key="a")
    # a re-delivered older event does not undo the cancellation that followed it
    assert calendar.record_event(event(appt, EventType.cancelled, at=booked_at + timedelta(minutes=1)))
    assert not calendar.record_event(event(appt, EventType.booked, at=booked_at))
    assert calendar.busy("cal-1", START - timedelta(hours=1), START + timedelta(hours=1)) == []
    assert calendar.book(slot(), "case-a", "consultation", "c-a", idempotency_key="a")
    # moved: the new time is busy, the old one free
    moved = appointment("ext-2", start=START + timedelta(hours=2), calendar_id="cal-1")
    calendar.record_event(event(moved, EventType.rescheduled, new_start=START + timedelta(hours=3),
                                new_end=START + timedelta(hours=3, minutes=30)))
    assert [b.start for b in calendar.busy("cal-1", START + timedelta(hours=1), START + timedelta(hours=5))] == \
        [START + timedelta(hours=3)]


def test_offers_skip_times_booked_per_signed_events(db_url: str) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    calendar = LocalCalendar(LocalDb(db_url))
    acts = SchedulingActivities(calendar, ledger=None, link_secret="s" * 32, public_base_url="http://127.0.0.1",
                                clock=lambda: now)
    resolved = resolved_of(fast_policy())
    req = OfferRequest(case_id="case-probe", attempt=1, appointment=appointment(calendar_id="cal-ext"),
                       resolved=resolved)
    first = acts.offer_slots(req).slots
    acts.release_holds("case-probe")
    for n, offered in enumerate(first):  # someone else books exactly those times, and the engine hears of it
        taken = appointment(f"ext-{n}", start=offered.start, calendar_id="cal-ext")
        calendar.record_event(event(taken, EventType.booked))
    again = acts.offer_slots(req.model_copy(update={"case_id": "case-real"})).slots
    assert again and not {s.start for s in again} & {s.start for s in first}
