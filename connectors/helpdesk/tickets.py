"""A help-desk ticket read as an appointment. Help desks have no appointment object: an agent (or an automation)
sets a ticket field, "appointment status" (Zendesk) or "reason" (Freshdesk), and its value says what happened.

- `StatusMap`: the field's values onto canonical events, from settings, with defaults for the usual values
  (missed / no show -> no_show, cancelled / canceled / canceled appointment -> cancelled, rescheduled ->
  rescheduled, attended -> attended; `reschedule_requested` is also accepted as a target). Values compare
  case-insensitively with `_`, `-` and runs of spaces read as one space. A value no entry names is listed in
  `unknown_types` (as a slug), never raised.
- `TicketView`: what the engine reads of a ticket, whether from a webhook body the admin templated or from the
  ticket object the API answers.
- The appointment: its id is the ticket's appointment id field when the ticket carries one, else the ticket id;
  its start is the ticket's appointment-time field when set, else the ticket's creation time (stable across
  updates, so reconciliation sees the same appointment each poll); contact `<source>:<requester id>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError, WebhookResult
from connectors.inbound import PayloadError, clip, contact_id_for, event_id, opt_dt
from connectors.sync import Snapshot, SnapshotStatus
from domain.models import Appointment, AppointmentEvent, Contact, EventType

EVENTS: dict[str, EventType] = {"no_show": EventType.no_show, "cancelled": EventType.cancelled,
                                "rescheduled": EventType.rescheduled, "attended": EventType.attended,
                                "reschedule_requested": EventType.reschedule_requested}
DEFAULT_STATUSES: dict[str, str] = {
    "missed": "no_show", "no show": "no_show", "missed appointment": "no_show", "cancelled": "cancelled",
    "canceled": "cancelled", "canceled appointment": "cancelled", "cancelled appointment": "cancelled",
    "rescheduled": "rescheduled", "attended": "attended"}
# reschedule_requested has no polled equivalent: only the webhook starts that kind of case
SNAPSHOT_STATUS: dict[EventType, SnapshotStatus] = {
    EventType.no_show: "no_show", EventType.cancelled: "cancelled", EventType.rescheduled: "rescheduled",
    EventType.attended: "attended"}
log = structlog.get_logger(__name__)
DEFAULT_LENGTH = timedelta(minutes=30)
TICKET_CALENDAR = "tickets"
TICKET_TYPE = "ticket"

_SPACES = re.compile(r"[\s_\-]+")


def normalise(value: Any) -> str:
    return _SPACES.sub(" ", str(value)).strip().lower()


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", normalise(value)).strip("_")[:40] or "blank"


class StatusMap:
    """Field value -> canonical event. `mapping` entries replace the defaults of the same value."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        merged = {**DEFAULT_STATUSES, **{normalise(k): v for k, v in (mapping or {}).items()}}
        unknown = sorted({v for v in merged.values() if v not in EVENTS})
        if unknown:
            raise ValueError("status mapping targets must be one of " + ", ".join(EVENTS) + "; got "
                             + ", ".join(unknown)[:200])
        self.events = {normalise(k): EVENTS[v] for k, v in merged.items()}

    def event(self, value: str | None) -> EventType | None:
        return self.events.get(normalise(value)) if value else None


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    status_value: str | None = None
    requester_id: str | None = None
    appointment_id: str | None = None
    start: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    owner_id: str | None = None


def blank(value: Any) -> str | None:
    """A template placeholder with nothing behind it renders as an empty string: read it as absent."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def ticket_id_of(value: Any) -> str:
    text = blank(value)
    if text is None or not text.isdigit() or len(text) > 20:
        raise PayloadError("ticket_id must be the ticket's numeric id")
    return text


def numeric(value: Any) -> str | None:
    text = blank(value)
    return text if text is not None and text.isdigit() and len(text) <= 20 else None


def hook_view(body: Mapping[str, Any]) -> TicketView:
    """The webhook body the documented template renders: flat string values, blanks for unset fields."""
    return TicketView(ticket_id=ticket_id_of(body.get("ticket_id")), status_value=blank(body.get("appointment_status")),
                      requester_id=numeric(body.get("requester_id")),
                      appointment_id=clip(blank(body.get("appointment_id")), 200),
                      start=opt_dt(blank(body.get("appointment_start"))),
                      created_at=opt_dt(blank(body.get("created_at"))),
                      updated_at=opt_dt(blank(body.get("updated_at"))), owner_id=numeric(body.get("assignee_id")))


def ticket_appointment(source: str, view: TicketView) -> Appointment | None:
    start = view.start or view.created_at or view.updated_at
    if start is None:
        return None
    contact = Contact(contact_id=contact_id_for(source, None, provider_id=view.requester_id,
                                                fallback=f"ticket-{view.ticket_id}"))
    return Appointment(source=source, appointment_id=view.appointment_id or view.ticket_id,
                       appointment_type=TICKET_TYPE, calendar_id=TICKET_CALENDAR, owner_id=view.owner_id, start=start,
                       end=start + DEFAULT_LENGTH, contact=contact)


def hook_result(source: str, provider: str, view: TicketView, statuses: StatusMap, dedupe: str | None,
                body: bytes) -> WebhookResult:
    result = WebhookResult(dedupe_key=dedupe)
    etype = statuses.event(view.status_value)
    if etype is None:
        result.unknown_types.append(f"ticket.{slug(view.status_value or '')}")
        return result
    appointment = ticket_appointment(source, view)
    if appointment is None:
        raise PayloadError("the ticket names no time: template created_at or updated_at into the body")
    result.events.append(AppointmentEvent(
        event_id=event_id(source, dedupe, 0, body), type=etype,
        occurred_at=view.updated_at or appointment.start, appointment=appointment,
        note=f"{provider} ticket {etype.name.replace('_', ' ')}"))
    return result


def ticket_snapshot(source: str, view: TicketView, statuses: StatusMap) -> Snapshot | None:
    """A polled ticket whose status field maps onto a polled status; other tickets are no appointment."""
    etype = statuses.event(view.status_value)
    status = SNAPSHOT_STATUS.get(etype) if etype is not None else None
    appointment = ticket_appointment(source, view)
    if status is None or appointment is None or view.requester_id is None:
        return None
    return Snapshot(appointment=appointment, status=status, changed_at=view.updated_at or appointment.start)


def requester_snapshot(source: str, view: TicketView | None, statuses: StatusMap, people: dict[str, Mapping[str, Any]],
                       read: Callable[[str], Mapping[str, Any]],
                       contact: Callable[[str, Mapping[str, Any]], Contact]) -> Snapshot | None:
    """`ticket_snapshot` with the requester's details, read once per requester per poll (`people`)."""
    snap = ticket_snapshot(source, view, statuses) if view is not None else None
    if snap is None or view is None or view.requester_id is None:
        return None
    requester = view.requester_id
    if requester not in people:
        try:
            people[requester] = read(requester)
        except ProviderError as exc:  # the snapshot stands without the details
            log.info("helpdesk_requester_unreadable", source=source, error=type(exc).__name__)
            people[requester] = {}
    found = contact(snap.appointment.contact.contact_id, people[requester])
    return snap.model_copy(update={"appointment": snap.appointment.model_copy(update={"contact": found})})


def record_view(ticket: Mapping[str, Any], values: Mapping[str, Any], status_key: str,
                appointment_key: str | None, start_key: str | None, owner_key: str) -> TicketView | None:
    """A ticket object the API answered (`values`: its custom fields by id or name), or None without an id."""
    if numeric(ticket.get("id")) is None:
        return None
    return TicketView(
        ticket_id=str(ticket["id"]), status_value=blank(values.get(status_key)),
        requester_id=numeric(ticket.get("requester_id")),
        appointment_id=clip(blank(values.get(appointment_key or "")), 200),
        start=opt_dt(blank(values.get(start_key or ""))), created_at=opt_dt(ticket.get("created_at")),
        updated_at=opt_dt(ticket.get("updated_at")), owner_id=numeric(ticket.get(owner_key)))
