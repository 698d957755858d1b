"""Many cases offering on one calendar at the same moment: each gets its slots, no slot is held twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from activities.scheduling import SchedulingActivities
from connectors.local.calendar import LocalCalendar
from connectors.local.db import LocalDb
from domain.case import OfferRequest
from tests.helpers import appointment, fast_policy, resolved_of


def test_twenty_cases_offering_at_once_each_get_three_distinct_slots(db_url: str) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    calendar = LocalCalendar(LocalDb(db_url))
    acts = SchedulingActivities(calendar, ledger=None, link_secret="s" * 32, public_base_url="http://127.0.0.1",
                                clock=lambda: now)
    resolved = resolved_of(fast_policy())

    def offer(n: int) -> list[datetime]:
        req = OfferRequest(case_id=f"case-{n:024x}", attempt=1, appointment=appointment(calendar_id="cal-busy"),
                           resolved=resolved)
        return [s.start for s in acts.offer_slots(req).slots]

    with ThreadPoolExecutor(max_workers=20) as pool:
        offers = list(pool.map(offer, range(20)))
    assert all(len(slots) == 3 for slots in offers), [len(s) for s in offers]
    every = [start for slots in offers for start in slots]
    assert len(every) == len(set(every))  # no time held for two cases
    assert all(start >= now - timedelta(minutes=1) for start in every)
