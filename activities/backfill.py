"""Waitlist backfill: hold a freed slot, read who is waiting for it, book it for the first taker.

The models here are the backfill workflow's inputs and activity I/O (the workflow imports them passed through).
Messages are not sent here: the workflow reuses the `send_message` activity so consent, windows, caps and
approved templates apply exactly as for a recovery case.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import AwareDatetime, BaseModel, Field
from temporalio import activity

from activities.clock import activity_now
from connectors.contract import SlotUnavailable
from connectors.local.calendar import LocalCalendar
from connectors.local.crm import LocalCrm
from connectors.local.waitlist import LocalWaitlist
from domain.ids import contact_key_for
from domain.models import Contact, LedgerEvent, Slot
from policies.schema import ResolvedProgram

log = structlog.get_logger(__name__)


def backfill_id_for(calendar_id: str, start: datetime, salt: str = "noshow") -> str:
    """One backfill per freed slot: an opaque hash of the calendar and the start instant (no PII)."""
    # the instant in UTC: the same slot named with another offset is the same slot
    instant = start.astimezone(UTC).isoformat()
    digest = hmac.new(salt.encode(), f"backfill\x1f{calendar_id}\x1f{instant}".encode(),
                      hashlib.sha256).hexdigest()
    return f"backfill-{digest[:24]}"


class FreedSlot(BaseModel):
    """A slot that became free ahead of time (a cancellation, or a no-show reported before the slot)."""

    calendar_id: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    owner_id: str | None = Field(default=None, max_length=200)
    appointment_type: str = Field(min_length=1, max_length=100)
    source: str = Field(default="local", min_length=1, max_length=64, pattern=r"^[a-z0-9_\-]+$")
    location_id: str | None = Field(default=None, max_length=200)
    value: float = Field(default=0.0, ge=0)
    freed_by: Literal["cancellation", "no_show"] = "cancellation"


class BackfillInput(BaseModel):
    backfill_id: str
    slot: FreedSlot
    resolved: ResolvedProgram
    batch_size: int = Field(default=3, ge=1, le=50)
    batch_wait_minutes: float = Field(default=30, gt=0)
    max_batches: int = Field(default=3, ge=1, le=20)
    stop_before_minutes: float = Field(default=60, ge=0)


class BackfillAccept(BaseModel):
    """A waitlisted contact said yes. contact_id may be the CRM contact id or the opaque contact key."""

    contact_id: str = Field(min_length=1, max_length=128)
    reply_id: str = Field(min_length=1, max_length=200)


class HoldRequest(BaseModel):
    backfill_id: str
    slot: Slot
    expires_at: datetime


class WaitlistRequest(BaseModel):
    appointment_type: str
    calendar_id: str
    limit: int = Field(default=100, ge=1, le=1000)


class WaitlistCandidate(BaseModel):
    contact: Contact
    contact_key: str


class WaitlistCandidates(BaseModel):
    candidates: list[WaitlistCandidate]


class BackfillBookRequest(BaseModel):
    backfill_id: str
    slot: Slot
    appointment_type: str
    contact_id: str
    idempotency_key: str


class BackfillBookResult(BaseModel):
    booked: bool
    appointment_id: str | None = None
    reason: str


class WaitlistRemoval(BaseModel):
    contact_id: str
    appointment_type: str
    calendar_id: str


class BackfillState(BaseModel):
    backfill_id: str
    stage: str  # backfilling | backfilled | expired | unavailable
    slot_start: datetime | None = None
    timezone: str = "UTC"  # the program's default zone, for reading "tues 3pm" in a reply
    batch: int = 0
    offered: list[str] = Field(default_factory=list)  # contact keys, in offer order
    winner: str | None = None  # contact key
    appointment_id: str | None = None
    outcome: str | None = None
    next_action_at: datetime | None = None


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
