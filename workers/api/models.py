"""Request and response bodies of the routes that are not the domain's own models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.models import Channel


class Problem(BaseModel):
    detail: str


class Health(BaseModel):
    """Liveness: the process answers. Nothing it depends on is consulted."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: bool
    store: bool
    policy_version: str | None


class PendingReview(BaseModel):
    review_id: str
    case_id: str
    reasons: list[str]
    program: str
    requested_at: str
    due_at: datetime | None = None
    appointment_type: str | None = None
    appointment_start: datetime | None = None
    value: float | None = None
    currency: str | None = None
    evidence: list[str] = Field(default_factory=list)  # the verdict's reasons and the attendance signals' sources
    prior_no_shows: int | None = None
    opted_out: list[str] = Field(default_factory=list)
    assignee: str | None = None


class DecisionBody(BaseModel):
    review_id: str
    decision: Literal["approve", "reject", "edit", "suppress"]
    note: str | None = Field(default=None, max_length=1000)
    mark_attended: bool = False
    segment: str | None = None


class LocalReplyBody(BaseModel):
    case_id: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=2000)
    channel: Channel = Channel.sms
    # who answers: needed for a waitlist offer (one backfill writes to many people), ignored for a case
    sender: str | None = Field(default=None, min_length=1, max_length=254)


class CaseSummary(BaseModel):
    case_id: str
    status: str
    stage: str | None
    kind: str | None
    needs_review: bool | None
    outcome: str | None
    start_time: datetime | None
