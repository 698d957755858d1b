"""Outcomes written back to the appointment's own Airtable record: engine fields (`outcome`,
`recovery_status`, ...) each mapped to one Airtable field by name (NOSHOW_AIRTABLE_OUTCOME_FIELDS), sent with
`PATCH /v0/{baseId}/{table}` `{"records": [{"id", "fields"}]}`
(https://airtable.com/developers/web/api/update-multiple-records). PATCH changes only the fields it names, and
only mapped fields are ever named: a mapping onto an appointment field is refused when the writer is built, and
the CRM write rules are applied again here. An appointment from another source has no record here and writes
nothing. Notes, tasks and bookings stay in the local CRM copy (`FieldsOnly`).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from connectors.airtable.client import AirtableClient
from connectors.crm_fields import allowed_changes, field_map
from connectors.sheets.outcomes import FieldsOnly, column_problems
from policies.schema import CrmRules

log = structlog.get_logger(__name__)


class AirtableOutcomes(FieldsOnly):
    def __init__(self, client: AirtableClient, base_id: str, table: str, fields: Mapping[str, str],
                 rules: CrmRules | None = None) -> None:
        problems = column_problems(fields)
        if problems:
            raise ValueError("outcome fields refused: " + "; ".join(problems))
        self.client, self.base_id, self.table = client, base_id, table
        self.fields, self.rules = field_map(fields), rules or CrmRules()

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        record = self.client.record(self.base_id, self.table, appointment_id) if appointment_id.startswith(
            "rec") else None
        values = record.get("fields") if isinstance(record, dict) else None
        values = values if isinstance(values, dict) else {}
        return {name: (None if values.get(api) in (None, "") else str(values[api])) for name, api in
                self.fields.items()}

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        if not self.fields or not appointment_id.startswith("rec"):
            return  # nothing mapped, or another source's appointment
        changes = allowed_changes("airtable", self.rules, self.read_fields(contact_id, appointment_id), fields)
        mapped = {self.fields[c.field.lower()]: c.after for c in changes if c.field.lower() in self.fields}
        if mapped:
            self.client.update(self.base_id, self.table, [(appointment_id, mapped)])

