"""Appending case events to the reporting ledger (idempotent on event id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import activity

from connectors.local.history import CaseHistory
from domain.case import LedgerBatch


class LedgerActivities:
    def __init__(self, ledger: Any, history: CaseHistory) -> None:
        self.ledger = ledger
        self.history = history

    @activity.defn(name="record_ledger")
    def record_ledger(self, batch: LedgerBatch) -> None:
        self.ledger.append_many(batch.events)
        for event in batch.events:
            contact_key = event.data.get("contact_key")
            start = event.data.get("appointment_start")
            if event.type == "verdict" and event.outcome and isinstance(contact_key, str) and isinstance(start, str):
                self.history.record_verdict(event.case_id, contact_key, event.outcome, datetime.fromisoformat(start))
