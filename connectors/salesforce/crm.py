"""The CRM writes on Salesforce: outcome fields on the appointment's record, a Task as the owner task, notes.

- Fields: the canonical CRM fields map to custom fields the org admin creates (NOSHOW_SALESFORCE_FIELDS, default
  `Noshow_Outcome__c`, `Noshow_Recovery_Status__c`, ...), written with PATCH on the appointment's own record (a
  ServiceAppointment or an Event, told apart by the id's key prefix `08p` / `00U`) or, for an appointment from
  another source, on the Contact. The CRM write rules are applied again here (`policies.crm_rules.plan_write`
  with the union of every program's rules): a protected field is refused before anything is sent.
- Owner task: a `Task` (`Subject`, `OwnerId`, `Status`, `Priority`, `ActivityDate`, `WhoId`)
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm.
  `Status` `Not Started` and `Priority` `Normal` are the defaults of a new org; orgs can rename them (UNVERIFIED
  per org: read `TaskStatus` when a create is refused with `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`).
- Notes: a `Note` on the contact (`ParentId`, `Title`, `Body`)
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_note.htm.
- A booking the engine made: an `Event` on the contact.

Salesforce has no idempotency key, so every create goes through `CreateLog`: the row is written before the
POST, and a retry after an unanswered POST searches for the marker `(ref nsk...)` the record's Subject / Title
carries (a SOQL `LIKE`: long text such as `Description` cannot be filtered) before creating again.
Contacts: `salesforce:<id>` is the record itself; another source's contact is found by email (never created).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.contract import PermanentProviderError
from connectors.crm_fields import UNKNOWN_CONTACT, allowed_changes, mapped_changes, mapped_values
from connectors.local.remote_creates import CreateLog
from connectors.local.remote_creates import marker as create_marker
from connectors.salesforce.client import SalesforceClient, soql_like, soql_string
from domain.models import Contact
from policies.schema import CrmRules

DEFAULT_FIELDS = {
    "outcome": "Noshow_Outcome__c", "missed_date": "Noshow_Missed_Date__c",
    "recovery_status": "Noshow_Recovery_Status__c", "next_appointment": "Noshow_Next_Appointment__c",
    "risk_flag": "Noshow_Risk_Flag__c",
}
KEY_PREFIX = {"08p": "ServiceAppointment", "00U": "Event", "003": "Contact", "00Q": "Lead"}
def marker(idempotency_key: str) -> str:
    return f"(ref {create_marker(idempotency_key)})"


def record_type(record_id: str) -> str | None:
    """The sObject a Salesforce id names (15 or 18 characters, key prefix first), or None for another id."""
    if len(record_id) not in (15, 18) or not record_id.isalnum():
        return None
    return KEY_PREFIX.get(record_id[:3])


class SalesforceCrm:
    def __init__(self, client: SalesforceClient, creates: CreateLog, rules: CrmRules | None = None,
                 fields: Mapping[str, str] | None = None, default_owner: str | None = None,
                 contact_lookup: Callable[[str], Contact | None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.rules = client, creates, rules or CrmRules()
        self.fields = dict(fields or DEFAULT_FIELDS)
        self.default_owner, self.contact_lookup, self.clock = default_owner, contact_lookup, clock

    # ------------------------------------------------------------------ records
    def _person(self, contact_id: str) -> tuple[str, str]:
        """(sObject, id) of the contact or lead the engine's contact is."""
        own = contact_id.removeprefix("salesforce:")
        kind = record_type(own) if contact_id.startswith("salesforce:") else None
        if kind in ("Contact", "Lead"):
            return kind, own
        local = self.contact_lookup(contact_id) if self.contact_lookup else None
        if local is not None and local.email:
            rows = self.client.query(f"SELECT Id FROM Contact WHERE Email = {soql_string(local.email)} LIMIT 1")
            if rows and isinstance(rows[0].get("Id"), str):
                return "Contact", str(rows[0]["Id"])
        raise PermanentProviderError("salesforce: no Salesforce contact for this contact", code=UNKNOWN_CONTACT)

    def _target(self, contact_id: str, appointment_id: str) -> tuple[str, str]:
        kind = record_type(appointment_id) if appointment_id else None
        if kind in ("ServiceAppointment", "Event"):
            return kind, appointment_id
        return self._person(contact_id)

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        sobject, record_id = self._target(contact_id, appointment_id)
        return mapped_values(self.client.get(sobject, record_id, list(self.fields.values())), self.fields)

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        changes = mapped_changes(allowed_changes("salesforce", self.rules, self.read_fields(contact_id, appointment_id),
                                                 fields), self.fields)
        if changes:  # one PATCH: nothing half-written; fields without a mapping stay in the local audit copy
            self.client.update(*self._target(contact_id, appointment_id), changes)

    # ------------------------------------------------------------------ creates
    def _once(self, sobject: str, key: str, fields: dict[str, Any], title_field: str) -> str:
        tag = marker(key)
        fields = {**fields, title_field: f"{str(fields[title_field])[:200]} {tag}"}

        def find() -> str | None:
            rows = self.client.query(f"SELECT Id FROM {sobject} WHERE {title_field} LIKE {soql_like(tag)} LIMIT 1")
            return str(rows[0]["Id"]) if rows and rows[0].get("Id") else None

        return self.creates.once(key, sobject, lambda: self.client.create(sobject, fields), find)

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        _, person = self._person(contact_id)
        self._once("Note", idempotency_key, {"ParentId": person, "Title": "No-show recovery", "Body": note[:32000]},
                   "Title")

    def _owner(self, owner_id: str | None) -> str | None:
        # only a Salesforce user id (005...) can own a Task; other sources' owners fall back to the default owner
        if owner_id and owner_id.startswith("005") and len(owner_id) in (15, 18) and owner_id.isalnum():
            return owner_id
        return self.default_owner

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        fields: dict[str, Any] = {"Subject": title, "Status": "Not Started", "Priority": "Normal",
                                  "ActivityDate": (self.clock() + due_in).date().isoformat(),
                                  "Description": "Created by the no-show recovery engine."}
        owner = self._owner(owner_id)
        if owner:
            fields["OwnerId"] = owner
        if contact_id:
            with suppress(PermanentProviderError):  # a task without a contact still reaches its owner
                fields["WhoId"] = self._person(contact_id)[1]
        self._once("Task", idempotency_key, fields, "Subject")

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        try:
            _, person = self._person(contact_id)
        except PermanentProviderError:
            return None
        return self._once("Event", idempotency_key, {
            "Subject": title, "WhoId": person, "StartDateTime": start.astimezone(UTC).isoformat(),
            "EndDateTime": end.astimezone(UTC).isoformat()}, "Subject")
