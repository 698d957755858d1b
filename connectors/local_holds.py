"""Local hold bookkeeping for calendars whose provider has no holds (Cal.com, Google, Outlook).

A hold is remembered in-process until it expires or is released; `busy()` of the provider connector adds the
holds of other cases, so two cases are not offered the same slot by this engine. Booking still asks the
provider, which is the only authority on conflicts.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

from connectors.contract import BusyInterval, SlotUnavailable
from domain.models import Slot


class LocalHolds:
    def __init__(self) -> None:
        self._holds: dict[str, tuple[str, Slot, datetime]] = {}  # hold_id -> (case_id, slot, expires_at)
        self._lock = threading.Lock()

    def _live(self, now: datetime) -> list[tuple[str, str, Slot, datetime]]:
        return [(h, c, s, e) for h, (c, s, e) in self._holds.items() if e > now]

    def hold(self, slot: Slot, case_id: str, expires_at: datetime, now: datetime) -> Slot:
        with self._lock:
            for _hold_id, case, other, _exp in self._live(now):
                if case != case_id and other.calendar_id == slot.calendar_id and other.start < slot.end \
                        and slot.start < other.end:
                    raise SlotUnavailable("slot is held for another case")
            hold_id = f"hold-{uuid.uuid4().hex[:16]}"
            self._holds[hold_id] = (case_id, slot, expires_at)
        return slot.model_copy(update={"hold_id": hold_id})

    def busy(self, calendar_id: str, start: datetime, end: datetime, now: datetime,
             exclude_case: str | None = None) -> list[BusyInterval]:
        with self._lock:
            return [BusyInterval(start=s.start, end=s.end) for _h, c, s, _e in self._live(now)
                    if s.calendar_id == calendar_id and c != exclude_case and s.start < end and start < s.end]

    def release(self, case_id: str) -> None:
        with self._lock:
            for hold_id in [h for h, (c, _s, _e) in self._holds.items() if c == case_id]:
                del self._holds[hold_id]
