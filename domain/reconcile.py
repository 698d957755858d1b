"""What reconciliation and push upkeep pass between workflow and activities: polls, index updates, events to
deliver, and the reports of the channels and subscriptions kept open. Plain data, safe to pass through the sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.intake import EventOutcome
from domain.models import Appointment, AppointmentEvent, EventType


class ChannelReport(BaseModel):
    """What one maintenance pass did, without secrets (no tokens)."""

    calendar_id: str
    source: str
    active: str  # the channel id left open
    expires: datetime | None
    opened: str | None = None
    stopped: list[str] = Field(default_factory=list)


class SubscriptionReport(BaseModel):
    source: str
    resource: str
    active: str
    expires: datetime
    created: str | None = None
    renewed: list[str] = Field(default_factory=list)
    forgotten: list[str] = Field(default_factory=list)  # removed by Graph, or 404 on renewal
    deleted: list[str] = Field(default_factory=list)  # extra live subscriptions we deleted


class ReconcileInput(BaseModel):
    source: str  # a key of ReconcileActivities.sources, e.g. "calcom", "google:ops@example.org"
    cursor: str | None = None  # None: first run (baseline) or the stored cursor is unknown
    deliver: bool = False  # run the "deliver_appointment_events" activity before returning


class IndexEntry(BaseModel):
    start: datetime
    end: datetime
    status: str


class IndexUpdate(BaseModel):
    source: str
    appointment_id: str
    entry: IndexEntry


class ReconcileResult(BaseModel):
    source: str
    events: list[AppointmentEvent] = Field(default_factory=list)
    cursor: str | None = None
    full_resync: bool = False
    seen: int = 0  # snapshots examined
    # applied by "commit_reconcile" only after delivery, so a failed delivery re-finds the same changes
    updates: list[IndexUpdate] = Field(default_factory=list)
    links: list[MeetingLinkUpdate] = Field(default_factory=list)
    unresolved: dict[str, str] = Field(default_factory=dict)  # event id -> reason (see DeliverEvents)
    needs_review: list[NeedsReview] = Field(default_factory=list)


class NeedsReview(BaseModel):
    """A change reconciliation found but may not turn into a case on its own (no reachable contact)."""

    source: str
    appointment_id: str
    owner_id: str | None = None
    event_type: EventType
    reason: str  # why, without PII ("no contact is associated with the meeting")


class MeetingLinkUpdate(BaseModel):
    """A booking whose source event names one Zoom meeting (its join URL): linked on commit."""

    meeting_id: str
    appointment: Appointment


class DeliverEvents(BaseModel):
    source: str
    events: list[AppointmentEvent]
    # event id -> why its contact is unknown: delivered only to a case that already exists, else a human is asked
    unresolved: dict[str, str] = Field(default_factory=dict)
    needs_review: list[NeedsReview] = Field(default_factory=list)


PushProvider = Literal["google", "outlook", "airtable", "gmail"]


class PushInput(BaseModel):
    provider: PushProvider


class RenewalReport(BaseModel):
    """A push registration that is renewed whole each run (an Airtable webhook refresh, a Gmail watch)."""

    expires_at: datetime | None = None


class PushReport(BaseModel):
    provider: str
    google: list[ChannelReport] = Field(default_factory=list)
    outlook: list[SubscriptionReport] = Field(default_factory=list)
    renewed: list[RenewalReport] = Field(default_factory=list)


def _every_push_provider() -> list[PushProvider]:
    return ["google", "outlook"]


class RenewPushInput(BaseModel):
    providers: list[PushProvider] = Field(default_factory=_every_push_provider)


class RenewPushResult(BaseModel):
    reports: list[PushReport] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


class SubmittedEvents(BaseModel):
    source: str
    outcomes: list[EventOutcome] = Field(default_factory=list)
    reviews: list[str] = Field(default_factory=list)  # appointment ids a human was asked about
