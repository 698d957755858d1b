"""Waitlist backfill: hold a freed slot, read who is waiting for it, book it for the first taker.

The models here are the backfill workflow's inputs and activity I/O (the workflow imports them passed through).
Messages are not sent here: the workflow reuses the `send_message` activity so consent, windows, caps and
approved templates apply exactly as for a recovery case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from temporalio import activity

from activities.clock import activity_now
from connectors.contract import SlotUnavailable
from connectors.local.calendar import LocalCalendar
from connectors.local.crm import LocalCrm
from connectors.local.waitlist import LocalWaitlist
from domain.backfill import (
    BackfillBookRequest,
    BackfillBookResult,
    HoldRequest,
    WaitlistCandidate,
    WaitlistCandidates,
    WaitlistRemoval,
    WaitlistRequest,
)
from domain.ids import contact_key_for
from domain.models import LedgerEvent

log = structlog.get_logger(__name__)


class BackfillActivities:
    def __init__(self, calendar: LocalCalendar, waitlist: LocalWaitlist, crm: LocalCrm, salt: str,
                 clock: Callable[[], datetime] = activity_now, ledger: Any = None) -> None:
        self.calendar = calendar
        self.waitlist = waitlist
        self.crm = crm
        self.salt = salt
        self.clock = clock
        self.ledger = ledger

    @activity.defn(name="hold_backfill_slot")
    def hold_backfill_slot(self, req: HoldRequest) -> bool:
        """Hold the freed slot for this backfill so no recovery case offers or books it meanwhile."""
        # a retried hold replaces the earlier one instead of stacking a second
        self.calendar.release(req.backfill_id)
        try:
            self.calendar.hold(req.slot, req.backfill_id, req.expires_at)
        except SlotUnavailable:
            log.info("backfill_slot_unavailable", backfill_id=req.backfill_id)
            return False
        return True

    @activity.defn(name="read_waitlist")
    def read_waitlist(self, req: WaitlistRequest) -> WaitlistCandidates:
        out: list[WaitlistCandidate] = []
        for entry in self.waitlist.waiting(req.appointment_type, req.calendar_id, limit=req.limit):
            contact = self.crm.contact(entry.contact_id)
            if contact is None:
                continue  # no way to reach them: nothing to offer
            out.append(WaitlistCandidate(contact=contact, contact_key=contact_key_for(contact.contact_id, self.salt)))
        return WaitlistCandidates(candidates=out)

    @activity.defn(name="book_backfill")
    def book_backfill(self, req: BackfillBookRequest) -> BackfillBookResult:
        try:
            appointment_id = self.calendar.book(req.slot, req.backfill_id, req.appointment_type, req.contact_id,
                                                idempotency_key=req.idempotency_key)
        except SlotUnavailable as exc:
            return BackfillBookResult(booked=False, reason=str(exc))
        if self.ledger is not None:
            # the revenue this recovers is the freed slot's, recorded when the backfill opened (same id)
            self.ledger.append(LedgerEvent(
                event_id=f"{req.idempotency_key}:backfilled", case_id=req.backfill_id, type="backfilled",
                at=self.clock(), source="backfill", appointment_type=req.appointment_type,
            ))
        return BackfillBookResult(booked=True, appointment_id=appointment_id, reason="booked")

    @activity.defn(name="remove_from_waitlist")
    def remove_from_waitlist(self, req: WaitlistRemoval) -> None:
        self.waitlist.remove(req.contact_id, req.appointment_type, req.calendar_id)
