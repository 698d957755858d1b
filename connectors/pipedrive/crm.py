"""The CRM writes on Pipedrive: outcome custom fields on the deal (or the person), notes, follow-up activities,
the engine's bookings as meeting activities, and the no-show mark on the activity itself.

- Fields: canonical CRM fields map to custom field keys (NOSHOW_PIPEDRIVE_FIELDS; Pipedrive names custom fields
  by a generated key, so there is no default) written with `PATCH /api/v2/deals/{id}` `{"custom_fields": {...}}`
  when the appointment is an activity with a deal, else on the person
  (https://developers.pipedrive.com/docs/api/v1/Deals, .../Persons). The CRM write rules are applied again here.
- Notes: `POST /api/v1/notes` with `content`, `person_id` and the deal's `deal_id` when known
  (https://developers.pipedrive.com/docs/api/v1/Notes).
- Owner tasks: `POST /api/v2/activities` with `type` `task` (UNVERIFIED: the account's activity types must
  include it; it is a setting), `subject`, `owner_id`, `due_date`, `person_id`.
- Bookings: `POST /api/v2/activities` with `type` `meeting`, `due_date`, `due_time`, `duration`, `person_id`.
- No-show mark: `PATCH /api/v2/activities/{id}` `{"done": true}` plus the configured no-show `outcome`.
Every create goes through `CreateLog`; after an unanswered attempt the `(ref nsk...)` marker the subject or note
carries is searched for in the person's notes or in recently updated activities before creating again.
Contacts: `pipedrive:<person id>` names the person; another source's contact is found by email
(`/api/v2/persons/search`), never created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.contract import PermanentProviderError, ProviderError
from connectors.crm_fields import allowed_changes, field_map, mapped_changes, provider_contact
from connectors.local.remote_creates import CreateLog, marker
from connectors.pipedrive.client import PipedriveClient
from domain.models import Contact
from policies.schema import CrmRules


class PipedriveCrm:
    def __init__(self, client: PipedriveClient, creates: CreateLog, rules: CrmRules | None = None,
                 fields: Mapping[str, str] | None = None, default_owner: str | None = None,
                 contact_lookup: Callable[[str], Contact | None] | None = None, task_type: str = "task",
                 no_show_outcome: str | None = None, source: str = "pipedrive",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.rules = client, creates, rules or CrmRules()
        self.fields = field_map(fields)
        self.default_owner, self.contact_lookup, self.task_type = default_owner, contact_lookup, task_type
        self.no_show_outcome, self.source, self.clock = no_show_outcome, source, clock

    # ------------------------------------------------------------------ who and where
    def _person(self, contact_id: str) -> str:
        return provider_contact("pipedrive", "Pipedrive person", contact_id, self.source, self.contact_lookup,
                                self.client.person_by_email)

    def _target(self, contact_id: str, appointment_id: str) -> tuple[str, str]:
        if appointment_id.isdigit():
            deal = self.client.activity(appointment_id).get("deal_id")
            if deal:
                return "deals", str(deal)
        return "persons", self._person(contact_id)

    # ------------------------------------------------------------------ fields
    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        kind, record_id = self._target(contact_id, appointment_id)
        custom = self.client.record(kind, record_id).get("custom_fields")
        values = custom if isinstance(custom, dict) else {}
        return {name: (None if values.get(key) in (None, "") else str(values[key]))
                for name, key in self.fields.items()}

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        if not self.fields:
            return  # no custom fields mapped: the local audit copy is the only record
        changes = mapped_changes(allowed_changes("pipedrive", self.rules, self.read_fields(contact_id, appointment_id),
                                                 fields), self.fields)
        if changes:
            self.client.update(*self._target(contact_id, appointment_id), {"custom_fields": changes})

    # ------------------------------------------------------------------ the activity itself
    def set_done(self, activity_id: str, done: bool) -> None:
        self.client.set_done(activity_id, done)

    def mark_no_show(self, appointment_id: str, contact: Contact | None) -> bool:
        if not appointment_id.isdigit():
            return False
        change: dict[str, Any] = {"done": True}
        if self.no_show_outcome:
            change["outcome"] = int(self.no_show_outcome) if self.no_show_outcome.isdigit() else self.no_show_outcome
        self.client.update("activities", appointment_id, change)
        return True

    # ------------------------------------------------------------------ creates, once
    def _find_activity(self, tag: str, since: datetime) -> str | None:
        for row in self.client.activities(since):
            if tag in str(row.get("subject") or ""):
                return str(row["id"])
        return None

    def _activity(self, key: str, fields: dict[str, Any]) -> str:
        tag = marker(key)
        fields = {**fields, "subject": f"{str(fields['subject'])[:200]} (ref {tag})"}
        since = self.clock() - timedelta(days=2)
        return self.creates.once(key, "activity", lambda: self.client.create("/api/v2/activities", fields),
                                 lambda: self._find_activity(tag, since))

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        person = self._person(contact_id)
        tag = marker(idempotency_key)
        body = {"content": f"{note[:50000]}\n(ref {tag})", "person_id": int(person)}

        def find() -> str | None:
            return next((str(n["id"]) for n in self.client.notes(person) if tag in str(n.get("content") or "")),
                        None)

        self.creates.once(idempotency_key, "note", lambda: self.client.create("/api/v1/notes", body), find)

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        fields: dict[str, Any] = {"subject": title, "type": self.task_type,
                                  "due_date": (self.clock() + due_in).date().isoformat(), "done": False}
        owner = owner_id if owner_id and owner_id.isdigit() else self.default_owner
        if owner:
            fields["owner_id"] = int(owner)
        if contact_id:
            with suppress(ProviderError):  # a task without a person still reaches its owner
                fields["person_id"] = int(self._person(contact_id))
        self._activity(idempotency_key, fields)

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        try:
            person = self._person(contact_id)
        except PermanentProviderError:
            return None
        at = start.astimezone(UTC)
        minutes = max(0, int((end - start).total_seconds() // 60))
        return self._activity(idempotency_key, {
            "subject": title, "type": "meeting", "person_id": int(person), "due_date": at.date().isoformat(),
            "due_time": at.strftime("%H:%M"), "duration": f"{minutes // 60:02d}:{minutes % 60:02d}"})
