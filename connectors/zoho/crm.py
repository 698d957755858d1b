"""The CRM writes on Zoho CRM: outcome fields on the meeting (or the contact), notes, tasks.

- Fields: canonical CRM fields map to fields the admin creates (NOSHOW_ZOHO_FIELDS, default `Noshow_Outcome`,
  `Noshow_Recovery_Status`, ...), written with `PUT /crm/v7/Events/{id}` when the appointment is a Zoho meeting
  (a numeric record id), else on the contact. The CRM write rules are applied again here (plan_write).
- Notes: `POST /crm/v7/Notes` with `Note_Title`, `Note_Content` and `Parent_Id` `{"module": {"api_name"}, "id"}`
  https://www.zoho.com/crm/developer/docs/api/v7/create-notes.html (body fields UNVERIFIED beyond that page).
- Tasks: `POST /crm/v7/Tasks` with `Subject`, `Due_Date`, `Status`, `Owner`, `Who_Id` (UNVERIFIED field names).
- Bookings the engine made: `POST /crm/v7/Events` with `Event_Title`, `Start_DateTime`, `End_DateTime`,
  `Participants`.
Zoho has no idempotency key: every create goes through `CreateLog`, and after an unanswered attempt the marker
`nsk...` the title carries is searched for (`/search?word=`, UNVERIFIED that a word inside a title is matched)
before creating again. Contacts: `zoho:<id>` / `zoho:lead-<id>` name the record; another source's contact is
found by email (`/Contacts/search?email=`), never created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.contract import PermanentProviderError
from connectors.crm_fields import UNKNOWN_CONTACT, allowed_changes, mapped_changes, mapped_values
from connectors.local.remote_creates import CreateLog, marker
from connectors.zoho.client import ZohoClient, zoho_time
from domain.models import Contact
from policies.schema import CrmRules

DEFAULT_FIELDS = {"outcome": "Noshow_Outcome", "missed_date": "Noshow_Missed_Date",
                  "recovery_status": "Noshow_Recovery_Status", "next_appointment": "Noshow_Next_Appointment",
                  "risk_flag": "Noshow_Risk_Flag"}
class ZohoCrm:
    def __init__(self, client: ZohoClient, creates: CreateLog, rules: CrmRules | None = None,
                 fields: Mapping[str, str] | None = None, default_owner: str | None = None,
                 contact_lookup: Callable[[str], Contact | None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.rules = client, creates, rules or CrmRules()
        self.fields = dict(fields or DEFAULT_FIELDS)
        self.default_owner, self.contact_lookup, self.clock = default_owner, contact_lookup, clock

    def _person(self, contact_id: str) -> tuple[str, str]:
        own = contact_id.removeprefix("zoho:") if contact_id.startswith("zoho:") else ""
        if own.isdigit():
            return "Contacts", own
        if own.startswith("lead-") and own[5:].isdigit():
            return "Leads", own[5:]
        local = self.contact_lookup(contact_id) if self.contact_lookup else None
        if local is not None and local.email:
            body = self.client.call("GET", self.client.crm("Contacts/search"), params={"email": local.email})
            data = body.get("data") if isinstance(body, dict) else None
            if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("id"):
                return "Contacts", str(data[0]["id"])
        raise PermanentProviderError("zoho: no Zoho CRM contact for this contact", code=UNKNOWN_CONTACT)

    def _target(self, contact_id: str, appointment_id: str) -> tuple[str, str]:
        return ("Events", appointment_id) if appointment_id.isdigit() else self._person(contact_id)

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        module, record_id = self._target(contact_id, appointment_id)
        return mapped_values(self.client.get(module, record_id, list(self.fields.values())), self.fields)

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        changes = mapped_changes(allowed_changes("zoho", self.rules, self.read_fields(contact_id, appointment_id),
                                                 fields), self.fields)
        if changes:
            self.client.update(*self._target(contact_id, appointment_id), changes)

    def _once(self, module: str, key: str, fields: dict[str, Any], title_field: str) -> str:
        tag = marker(key)
        fields = {**fields, title_field: f"{str(fields[title_field])[:200]} (ref {tag})"}
        return self.creates.once(key, module, lambda: self.client.create(module, fields),
                                 lambda: self.client.search_word(module, tag))

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        module, record_id = self._person(contact_id)
        self._once("Notes", idempotency_key, {"Note_Title": "No-show recovery", "Note_Content": note[:32000],
                                              "Parent_Id": {"module": {"api_name": module}, "id": record_id}},
                   "Note_Title")

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        fields: dict[str, Any] = {"Subject": title, "Status": "Not Started",
                                  "Due_Date": (self.clock() + due_in).date().isoformat()}
        owner = owner_id if owner_id and owner_id.isdigit() else self.default_owner
        if owner:
            fields["Owner"] = {"id": owner}
        if contact_id:
            with suppress(PermanentProviderError):  # a task without a contact still reaches its owner
                module, record_id = self._person(contact_id)
                if module == "Contacts":
                    fields["Who_Id"] = {"id": record_id}
        self._once("Tasks", idempotency_key, fields, "Subject")

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        try:
            module, record_id = self._person(contact_id)
        except PermanentProviderError:
            return None
        kind = "contact" if module == "Contacts" else "lead"
        return self._once("Events", idempotency_key, {
            "Event_Title": title, "Start_DateTime": zoho_time(start), "End_DateTime": zoho_time(end),
            "Participants": [{"type": kind, "participant": record_id}]}, "Event_Title")
