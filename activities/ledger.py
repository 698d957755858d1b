"""Appending case events to the reporting ledger (idempotent on event id).

`record_ledger` is the activity for a batch nothing else can carry; `record` is what every activity that
carries a case's events (`records` on its request) calls first, before its own side effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from temporalio import activity

from connectors.local.verdicts import VerdictLog
from domain.case import LedgerBatch
from domain.models import LedgerEvent


def ensure_recordable(verdicts: VerdictLog | None, events: Sequence[LedgerEvent]) -> None:
    """A misconfigured worker fails loudly, before any side effect, rather than lose repeat-no-show routing."""
    if verdicts is None and any(e.type == "verdict" and e.outcome for e in events):
        raise RuntimeError("this activity carries a verdict but was built without the verdict log")


def record(ledger: Any, verdicts: VerdictLog | None, events: Sequence[LedgerEvent]) -> None:
    """Write a case's ledger events, in one transaction (each append re-summarises the case, so batch them); a
    verdict also goes to the per-contact verdicts (repeat no-show routing)."""
    if not events:
        return
    ensure_recordable(verdicts, events)
    found = [e for e in events if e.type == "verdict" and e.outcome]
    ledger.append_many(events)
    for event in found:
        contact_key = event.data.get("contact_key")
        start = event.data.get("appointment_start")
        if verdicts is not None and event.outcome and isinstance(contact_key, str) and isinstance(start, str):
            verdicts.record_verdict(event.case_id, contact_key, event.outcome, datetime.fromisoformat(start))


class LedgerActivities:
    def __init__(self, ledger: Any, verdicts: VerdictLog) -> None:
        self.ledger = ledger
        self.verdicts = verdicts

    @activity.defn(name="record_ledger")
    def record_ledger(self, batch: LedgerBatch) -> None:
        record(self.ledger, self.verdicts, batch.events)
