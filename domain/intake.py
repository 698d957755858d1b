"""What became of an event or a reply handed to the engine: the webhook acknowledgement's parts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class EventOutcome(BaseModel):
    event_id: str
    case_id: str | None
    status: Literal["accepted", "ignored", "case_closed"]
    reason: str | None = None
    backfill_id: str | None = None  # the waitlist backfill of the slot this event freed, when one runs


class ReplyOutcome(BaseModel):
    reply_id: str
    case_id: str | None
    routed: Literal["case", "unknown_sender", "closed_case", "waitlist_offer"]
    opted_out: bool = False
    # for a reply to a waitlist offer: what became of it
    backfill: Literal["signalled", "closed", "not_a_yes", "unknown_sender"] | None = None


class WebhookAck(BaseModel):
    """What a webhook delivery did: its events and replies, and the event types nobody handles yet."""

    ok: bool = True
    duplicate: bool = False
    # accepted and written down, its effects still to come (then `events` and `replies` are empty)
    queued: bool = False
    intake_id: str | None = None
    events: list[EventOutcome] = Field(default_factory=list)
    replies: list[ReplyOutcome] = Field(default_factory=list)
    unknown_types: list[str] = Field(default_factory=list)
