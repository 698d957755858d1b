"""The local calendar: atomic booking that cannot double-book, holds, buffers, idempotent retries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from connectors.contract import SlotUnavailable
from connectors.local.calendar import LocalCalendar
from connectors.local.db import LocalDb
from domain.models import Slot

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

