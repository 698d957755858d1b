"""The CRM writes on GoHighLevel: outcome values in the contact's custom fields, notes and tasks on the contact
(connectors/gohighlevel/client.py cites the API).

- Fields: canonical CRM fields map to custom field ids (NOSHOW_GOHIGHLEVEL_FIELDS), written with `PUT
  /contacts/{id}` `{"customFields": [{"id", "field_value"}]}` and read from the contact's `customFields`
  (`{"id", "value"}`). The CRM write rules are applied again here.
- Notes: `POST /contacts/{id}/notes` (`body`, `userId` when configured).
- Tasks: `POST /contacts/{id}/tasks` (`title`, `dueDate` a day ahead, `completed` false, `assignedTo` when the
  owner is a user id); a task with no GoHighLevel contact stays in the local CRM.
- Bookings the engine made are GoHighLevel appointments already when GoHighLevel is the calendar; otherwise
  they are not recorded here.
Every create goes through `CreateLog`; after an unanswered attempt the `(ref nsk...)` marker is searched for in
the contact's notes or tasks before creating again. Contacts: only `gohighlevel:<contactId>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.contract import PermanentProviderError
from connectors.crm_fields import UNKNOWN_CONTACT, allowed_changes, field_map, mapped_changes, mapped_values
from connectors.gohighlevel.calendar import ghl_contact, marker
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.local.remote_creates import CreateLog
from policies.schema import CrmRules


class GoHighLevelCrm:
    def __init__(self, client: GoHighLevelClient, creates: CreateLog, rules: CrmRules | None = None,
                 fields: Mapping[str, str] | None = None, user_id: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.rules = client, creates, rules or CrmRules()
        self.fields = field_map(fields)
        self.user_id, self.clock = user_id, clock

    @staticmethod
    def _contact(contact_id: str) -> str:
        found = ghl_contact(contact_id)
        if found is None:
            raise PermanentProviderError("gohighlevel: not a GoHighLevel contact", code=UNKNOWN_CONTACT)
        return found

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        custom = self.client.contact(self._contact(contact_id)).get("customFields")
        return mapped_values({str(c.get("id")): c.get("value") for c in custom or [] if isinstance(c, dict)},
                             self.fields)

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        if not self.fields:
            return
        changes = mapped_changes(allowed_changes("gohighlevel", self.rules,
                                                 self.read_fields(contact_id, appointment_id), fields), self.fields)
        custom = [{"id": field_id, "field_value": value or ""} for field_id, value in changes.items()]
        if custom:
            self.client.update_contact(self._contact(contact_id), {"customFields": custom})

    def _once(self, contact: str, kind: str, key: str, fields: dict[str, Any], text_field: str) -> None:
        tag = marker(key)
        fields = {**fields, text_field: f"{fields[text_field]} (ref {tag})"}

        def find() -> str | None:
            return next((str(i["id"]) for i in self.client.items(contact, kind)
                         if tag in str(i.get(text_field) or "") and i.get("id")), None)

        self.creates.once(key, kind, lambda: self.client.add_item(contact, kind, fields) or f"unnamed-{tag}", find)

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        fields: dict[str, Any] = {"body": note[:4900]}
        if self.user_id:
            fields["userId"] = self.user_id
        self._once(self._contact(contact_id), "notes", idempotency_key, fields, "body")

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        contact = ghl_contact(contact_id or "")
        if contact is None:
            return  # a GoHighLevel task belongs to a contact: one without stays in the local CRM
        fields: dict[str, Any] = {"title": title[:200], "dueDate": (self.clock() + due_in).isoformat(),
                                  "completed": False}
        owner = owner_id if owner_id and owner_id.isalnum() else self.user_id
        if owner:
            fields["assignedTo"] = owner
        self._once(contact, "tasks", idempotency_key, fields, "title")

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        return None
