"""Waitlist backfill: the workflow's input and state, and its activities' requests and results.

A freed slot is offered to the waitlist in batches; these models carry no PII beyond the contact the CRM already
holds (contact keys are opaque)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain.models import Contact, Slot
from policies.schema import ResolvedProgram


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
