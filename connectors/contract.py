"""The connector contract: small protocols every external system implements, and the errors they raise.

Inbound: verify the raw request (before parsing anything), then parse it into canonical items.
Outbound: calendars, CRMs, message channels and reviewer notifiers. The local SQLite connectors are the
embedded default; provider connectors implement the same protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from domain.models import AppointmentEvent, Channel, Contact, Slot

# ---------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base class. Activities translate these into Temporal retry behaviour."""


class RetryableProviderError(ProviderError):
    """5xx, timeouts, 429. `retry_after` (seconds) comes from the provider's Retry-After when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """A 4xx that will not get better by retrying (bad number, opted out at the carrier, forbidden)."""

    def __init__(self, message: str, code: str | None = None, opt_out: bool = False,
                 window_closed: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.opt_out = opt_out
        # the channel's messaging window is closed for this recipient (WhatsApp free text after 24 h): this send
        # goes by the next channel, and the next free text on this channel waits for the customer to write
        self.window_closed = window_closed


class AmbiguousSendError(ProviderError):
    """The request may have been accepted (connection reset after sending). Look up before re-sending."""


class SignatureError(Exception):
    """The inbound request is not authentic (missing, forged, stale or replayed signature)."""


class SlotUnavailable(Exception):
    """The slot was taken between offer and booking."""


# ---------------------------------------------------------------- inbound


class RawRequest(BaseModel):
    method: str
    url: str  # the full public URL the provider called (signature schemes sign it)
    headers: dict[str, str]  # lower-case names
    query: dict[str, str] = Field(default_factory=dict)
    body: bytes


class InboundMessage(BaseModel):
    """A customer's message (SMS, WhatsApp, email reply) from a provider."""

    provider_message_id: str
    channel: Channel
    sender: str  # phone or email: PII, never logged
    recipient: str | None = None
    text: str
    received_at: datetime
    opt_out_type: str | None = None  # Twilio Advanced Opt-Out: STOP / START / HELP


class DeliveryStatus(BaseModel):
    provider_message_id: str
    status: Literal[
        "queued", "sent", "delivered", "failed", "undelivered", "bounced", "dropped", "spam", "unsubscribed",
        "opened", "read", "clicked",
    ]
    at: datetime
    error_code: str | None = None
    case_id: str | None = None
    message_id: str | None = None
    recipient: str | None = None


class PhoneCall(BaseModel):
    """A customer's call the business did not answer (no answer, busy, failed, hung up while ringing), from
    Twilio Voice or another phone system. `caller` is the customer's number: used to find their case, never
    stored or logged."""

    call_id: str = Field(min_length=1, max_length=200)  # the phone system's id of the call
    caller: str = Field(min_length=1, max_length=64)
    at: datetime
    status: str = Field(max_length=40)  # the phone system's own word (no-answer, busy, ...)
    source: str = Field(default="phone", max_length=64)


class ReviewAction(BaseModel):
    case_id: str
    decision: Literal["approve", "reject", "edit"]
    reviewer: str
    review_id: str | None = None
    note: str | None = None


class ConsentNotice(BaseModel):
    """A provider's word that an address must not be written to any more (an audience unsubscribe, a cleaned
    address), not tied to a message the engine sent. `address` is PII: the intake keeps only its key."""

    notice_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    address: str
    reason: str = Field(max_length=40)
    at: datetime


class WebhookResult(BaseModel):
    dedupe_key: str | None = None
    events: list[AppointmentEvent] = Field(default_factory=list)
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[DeliveryStatus] = Field(default_factory=list)
    review_actions: list[ReviewAction] = Field(default_factory=list)
    missed_calls: list[PhoneCall] = Field(default_factory=list)
    unknown_types: list[str] = Field(default_factory=list)
    # a body the provider expects back (URL validation handshakes); None means a plain 200 {"ok": true}
    response: dict[str, Any] | str | None = None
    response_media_type: str = "application/json"
    # sources to reconcile now (a Google / Graph ping only says "something changed": the sync finds what)
    sync_sources: list[str] = Field(default_factory=list)
    consent: list[ConsentNotice] = Field(default_factory=list)
    # writes that belong to the delivery's hand-off, run in the transaction that writes it to the intake queue
    # (a mailbox's history cursor moved past the messages this delivery carries): they happen only if the
    # delivery is kept, never when the hand-off fails or finds a duplicate. Not serialised with the delivery.
    on_handoff: list[Callable[[Any], None]] = Field(default_factory=list, exclude=True)


class InboundConnector(Protocol):
    name: str

    def verify(self, request: RawRequest, now: datetime) -> None:
        """Raise SignatureError unless the request is authentic and fresh. Must not parse the body first."""

    def parse(self, request: RawRequest) -> WebhookResult: ...


# ---------------------------------------------------------------- outbound


class OutboundMessage(BaseModel):
    message_id: str  # idempotency key: case id + step
    case_id: str
    channel: Channel
    to: str
    subject: str | None = None
    body: str
    template_id: str | None = None
    # an approved provider template to send instead of `body` (Twilio Content API ContentSid) and its variables
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


class SendReceipt(BaseModel):
    message_id: str
    provider_message_id: str
    status: str = "queued"
    duplicate: bool = False  # True when the lookup found the message already sent


@runtime_checkable
class ReachCheck(Protocol):
    """A channel that can tell, before a send, whether it reaches a recipient (push: a stored subscription)."""

    def reaches(self, to: str) -> bool: ...


@runtime_checkable
class MessageChannel(Protocol):
    def send(self, message: OutboundMessage) -> SendReceipt:
        """Send once. Must look up `message_id` first where the provider allows, and never send twice."""
        ...

    def lookup(self, message_id: str) -> SendReceipt | None: ...


class BusyInterval(BaseModel):
    start: datetime
    end: datetime


@runtime_checkable
class CalendarConnector(Protocol):
    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]: ...

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        """Place a short-lived hold; raises SlotUnavailable."""
        ...

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        """Book atomically; returns the new appointment id; raises SlotUnavailable on a conflict."""
        ...

    def release(self, case_id: str) -> None: ...


@runtime_checkable
class CancellableCalendar(Protocol):
    """A provider calendar that can undo a booking the engine made (the customer cancelled or moved it)."""

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        """Idempotent: an appointment already gone at the provider is not an error."""
        ...


@runtime_checkable
class NoShowMarker(Protocol):
    """A scheduler that records attendance itself (Cal.com mark-absent, Calendly invitee no-shows)."""

    def mark_no_show(self, appointment_id: str, contact: Contact | None) -> bool:
        """Mark the guest absent on the provider's own booking; False when the id is not this provider's."""
        ...


@runtime_checkable
class CrmConnector(Protocol):
    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]: ...

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None: ...

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None: ...

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None:
        """`contact_id`: the customer the task is about, when there is one (CRMs that attach tasks to a contact)."""
        ...


@runtime_checkable
class ReviewNotifier(Protocol):
    def request_review(self, case_id: str, summary: str, reasons: list[str], idempotency_key: str) -> None: ...
