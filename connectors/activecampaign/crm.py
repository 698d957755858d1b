"""The CRM writes on ActiveCampaign: outcome values in the contact's custom fields, notes on the contact, and
owner tasks as deal tasks on the contact.

- Fields: canonical CRM fields map to custom field ids (NOSHOW_ACTIVECAMPAIGN_FIELDS; ActiveCampaign names its
  custom fields by number, so there is no default), written with `POST /api/3/fieldValues`. The CRM write rules
  are applied again here.
- Notes: `POST /api/3/notes` with `reltype` `Subscriber` (a contact).
- Tasks: `POST /api/3/dealTasks` with `ownerType` `contact`, the configured task type (`dealTasktype`, required)
  and a due date a day ahead; `assignee` when the owner is a numeric user id.
- Bookings: ActiveCampaign has no appointment object, so the engine's bookings are not recorded there (the next
  appointment field, when mapped, carries the time).
Every create goes through `CreateLog`; after an unanswered attempt the `(ref nsk...)` marker is searched for in
the contact's notes or deal tasks before creating again. Contacts: `activecampaign:<id>` names the contact;
another source's contact is found by email, never created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from connectors.activecampaign.client import ActiveCampaignClient
from connectors.crm_fields import allowed_changes, field_map, mapped_changes, provider_contact
from connectors.local.remote_creates import CreateLog, marker
from domain.models import Contact
from policies.schema import CrmRules


class ActiveCampaignCrm:
    def __init__(self, client: ActiveCampaignClient, creates: CreateLog, rules: CrmRules | None = None,
                 fields: Mapping[str, str] | None = None, default_owner: str | None = None,
                 contact_lookup: Callable[[str], Contact | None] | None = None, task_type: str = "1",
                 source: str = "activecampaign", clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.rules = client, creates, rules or CrmRules()
        self.fields = field_map(fields)
        self.default_owner, self.contact_lookup, self.task_type = default_owner, contact_lookup, task_type
        self.source, self.clock = source, clock

    def _contact(self, contact_id: str) -> str:
        return provider_contact("activecampaign", "ActiveCampaign contact", contact_id, self.source,
                                self.contact_lookup, self.client.contact_by_email)

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        values = self.client.field_values(self._contact(contact_id))
        return {name: values.get(field) for name, field in self.fields.items()}

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        if not self.fields:
            return  # no custom fields mapped: the local audit copy is the only record
        changes = mapped_changes(allowed_changes("activecampaign", self.rules,
                                                 self.read_fields(contact_id, appointment_id), fields), self.fields)
        person = self._contact(contact_id) if changes else ""
        for field, value in changes.items():
            self.client.set_field(person, field, value)

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        person = self._contact(contact_id)
        tag = marker(idempotency_key)
        fields = {"note": f"{note[:50000]}\n(ref {tag})", "relid": person, "reltype": "Subscriber"}

        def find() -> str | None:
            return next((str(n["id"]) for n in self.client.notes(person) if tag in str(n.get("note") or "")), None)

        self.creates.once(idempotency_key, "note", lambda: self.client.create("/notes", "note", fields), find)

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        if not contact_id:
            return  # a deal task belongs to a contact or a deal: one with neither stays in the local CRM
        person = self._contact(contact_id)
        tag = marker(idempotency_key)
        due = self.clock() + due_in
        fields: dict[str, object] = {"title": f"{title[:200]} (ref {tag})", "ownerType": "contact", "relid": person,
                                     "status": 0, "duedate": due.isoformat(), "dealTasktype": self.task_type}
        owner = owner_id if owner_id and owner_id.isdigit() else self.default_owner
        if owner:
            fields["assignee"] = owner

        def find() -> str | None:
            return next((str(t["id"]) for t in self.client.deal_tasks(person) if tag in str(t.get("title") or "")),
                        None)

        self.creates.once(idempotency_key, "dealTask", lambda: self.client.create("/dealTasks", "dealTask", fields),
                          find)

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        return None  # no appointment object at ActiveCampaign
