"""The engine's CRM writes on a help desk, through the desk's client (`TicketDesk`):

- the outcome: the mapped ticket fields set on the ticket (the CRM write rules applied first, so a protected
  field is never sent), and a private note saying what the engine recorded;
- notes: private notes on the ticket;
- owner tasks: a private note on the ticket (`follow_up = "note"`) or a follow-up ticket for the same requester,
  assigned to the owner when the owner is an agent id (`follow_up = "ticket"`);
- bookings: a private note with the rebooked time.
The ticket: for a contact of this desk with an appointment id that is the ticket id, that ticket; otherwise the
requester's most recently updated ticket. Help desks have no idempotency key on creates: every note and ticket
goes through `CreateLog.once` and carries a `(ref nsk...)` marker, searched for after an unanswered attempt.
Contacts: `<source>:<requester id>` names the requester; another source's contact is found by email, never
created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from connectors.contract import PermanentProviderError
from connectors.crm_fields import (
    UNKNOWN_CONTACT,
    allowed_changes,
    field_map,
    mapped_values,
    own_record,
    provider_contact,
)
from connectors.local.remote_creates import CreateLog, marker
from domain.models import Contact
from policies.schema import CrmRules

FollowUp = Literal["note", "ticket"]


class TicketDesk(Protocol):
    provider: str

    def field_values(self, ticket_id: str) -> dict[str, Any]:
        """The ticket's custom field values by field id (Zendesk) or name (Freshdesk)."""
        ...

    def set_fields(self, ticket_id: str, values: Mapping[str, str | None]) -> None: ...

    def add_note(self, ticket_id: str, body: str) -> str:
        """A private note; the created record's id."""
        ...

    def notes(self, ticket_id: str) -> list[tuple[str, str]]:
        """(id, text) of the ticket's comments or notes."""
        ...

    def create_ticket(self, requester_id: str | None, subject: str, body: str, assignee_id: str | None) -> str: ...

    def requested_tickets(self, requester_id: str) -> list[dict[str, Any]]:
        """The requester's tickets, most recently updated first (`id`, `subject`)."""
        ...

    def requester_by_email(self, email: str) -> str | None: ...


def _first(found: list[tuple[str, str]], tag: str) -> str | None:
    return next((record for record, text in found if tag in text), None)


class HelpdeskCrm:
    def __init__(self, desk: TicketDesk, creates: CreateLog, rules: CrmRules | None = None,
                 fields: Mapping[str, str] | None = None, source: str = "helpdesk",
                 ticket_ids_are_appointments: bool = True, follow_up: FollowUp = "note",
                 default_owner: str | None = None, contact_lookup: Callable[[str], Contact | None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.desk, self.creates, self.rules = desk, creates, rules or CrmRules()
        self.fields, self.source = field_map(fields), source
        self.ticket_ids_are_appointments, self.follow_up = ticket_ids_are_appointments, follow_up
        self.default_owner, self.contact_lookup, self.clock = default_owner, contact_lookup, clock

    @property
    def title(self) -> str:
        return self.desk.provider.capitalize()

    # ------------------------------------------------------------------ who and where
    def _requester(self, contact_id: str) -> str:
        return provider_contact(self.desk.provider, f"{self.title} requester", contact_id, self.source,
                                self.contact_lookup, self.desk.requester_by_email)

    def _ticket(self, contact_id: str, appointment_id: str | None = None) -> str:
        own = own_record(contact_id, self.source) is not None
        if own and appointment_id and appointment_id.isdigit() and self.ticket_ids_are_appointments:
            return appointment_id
        tickets = self.desk.requested_tickets(self._requester(contact_id))
        if not tickets or not str(tickets[0].get("id") or "").isdigit():
            # nowhere to write: the same as a contact the desk does not know, so the local audit copy stands alone
            raise PermanentProviderError(f"{self.desk.provider}: the requester has no ticket", code=UNKNOWN_CONTACT)
        return str(tickets[0]["id"])

    # ------------------------------------------------------------------ fields
    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        return mapped_values(self.desk.field_values(self._ticket(contact_id, appointment_id)), self.fields)

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        ticket = self._ticket(contact_id, appointment_id)
        current = mapped_values(self.desk.field_values(ticket), self.fields) if self.fields else {}
        changes = allowed_changes(self.desk.provider, self.rules, current, fields)
        mapped = {self.fields[c.field.lower()]: c.after for c in changes if c.field.lower() in self.fields}
        if mapped:
            self.desk.set_fields(ticket, mapped)
        said = "; ".join(f"{c.field}: {c.after if c.after is not None else '(cleared)'}" for c in changes)
        if said:
            self._note(ticket, f"No-show recovery recorded {said}", f"{idempotency_key}-outcome")

    # ------------------------------------------------------------------ creates, once
    def _note(self, ticket: str, text: str, key: str) -> str:
        tag = marker(key)
        body = f"{text[:30000]}\n(ref {tag})"
        return self.creates.once(key, "note", lambda: self.desk.add_note(ticket, body),
                                 lambda: _first(self.desk.notes(ticket), tag))

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        self._note(self._ticket(contact_id), note, idempotency_key)

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        due = (self.clock() + due_in).strftime("%Y-%m-%d %H:%M UTC")
        if self.follow_up == "note" and contact_id:
            self._note(self._ticket(contact_id), f"Follow-up task (due {due}): {title}", idempotency_key)
            return
        requester = self._requester(contact_id) if contact_id else None
        assignee = owner_id if owner_id and owner_id.isdigit() else self.default_owner
        tag = marker(idempotency_key)
        subject = f"{title[:200]} (ref {tag})"

        def find() -> str | None:
            rows = self.desk.requested_tickets(requester) if requester else []
            return next((str(t["id"]) for t in rows if tag in str(t.get("subject") or "")), None)

        self.creates.once(idempotency_key, "ticket", lambda: self.desk.create_ticket(
            requester, subject, f"Follow-up task from no-show recovery, due {due}.", assignee), find)

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        try:
            ticket = self._ticket(contact_id)
        except PermanentProviderError:
            return None
        at, until = start.astimezone(UTC), end.astimezone(UTC)
        return self._note(ticket, f"{title}: {at:%Y-%m-%d %H:%M}-{until:%H:%M} UTC", idempotency_key)
