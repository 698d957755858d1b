"""Outcomes written back to a sheet's own rows: the engine's CRM fields (`outcome`, `recovery_status`,
`next_appointment`, ...) each mapped to one column by its header text (NOSHOW_SHEETS_OUTCOME_COLUMNS), written
with `values.batchUpdate` as RAW text into the row whose `appointment_id` matches
(https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/batchUpdate). Only the mapped
columns are ever written: a mapping onto one of the documented appointment columns (connectors/sheets/rows.py)
is refused when the writer is built, and the CRM write rules are applied again here, so a protected field is
never sent. A sheet holds no notes or tasks: those stay in the local CRM copy, which is the record of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from connectors.contract import PermanentProviderError
from connectors.crm_fields import allowed_changes, field_map
from connectors.sheets.client import SheetsClient, a1_column, quoted_sheet
from connectors.sheets.rows import COLUMNS, Header, HeaderError, header_key
from policies.schema import CrmRules

log = structlog.get_logger(__name__)


def column_problems(columns: Mapping[str, str]) -> list[str]:
    """Outcome columns that would overwrite an appointment column (those are the business's own data)."""
    return [f"{field} -> {title!r} is an appointment column" for field, title in columns.items()
            if header_key(title) in COLUMNS or not header_key(title)]


class FieldsOnly:
    """A table-shaped target keeps outcome fields only: notes, tasks and the engine's bookings stay in the local
    CRM copy, which is their record."""

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        return None

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None:
        return None

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        return None  # a row written here would be read back as a new appointment


class SheetsOutcomes(FieldsOnly):
    def __init__(self, client: SheetsClient, spreadsheet_id: str, sheet: str, columns: Mapping[str, str],
                 rules: CrmRules | None = None) -> None:
        problems = column_problems(columns)
        if problems:
            raise ValueError("outcome columns refused: " + "; ".join(problems))
        self.client, self.spreadsheet_id, self.sheet = client, spreadsheet_id, sheet
        self.columns = {name: header_key(title) for name, title in field_map(columns).items()}
        self.rules = rules or CrmRules()

    def _table(self) -> tuple[Header, list[list[Any]]]:
        rows = self.client.values(self.spreadsheet_id, f"{quoted_sheet(self.sheet)}!A:ZZ")
        if not rows:
            raise PermanentProviderError("sheets: the sheet is empty", code="bad_header")
        try:
            return Header.read(rows[0]), rows
        except HeaderError as exc:
            raise PermanentProviderError(f"sheets: {exc}", code="bad_header") from None

    def _row(self, appointment_id: str) -> tuple[Header, int, list[Any]] | None:
        header, rows = self._table()
        for number, row in enumerate(rows[1:], start=2):
            if header.cell(row, "appointment_id") == appointment_id:
                return header, number, row
        return None

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        found = self._row(appointment_id)
        return {name: None for name in self.columns} if found is None else self._values(found[0], found[2])

    def _values(self, header: Header, row: list[Any]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name, key in self.columns.items():
            i = header.titles.get(key)
            value = str(row[i]).strip() if i is not None and i < len(row) else ""
            out[name] = value or None
        return out

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        if not self.columns:
            return
        found = self._row(appointment_id)
        if found is None:
            log.info("sheets_outcome_no_row", fields=sorted(fields))  # another source's appointment
            return
        header, number, row = found
        current = self._values(header, row)
        cells: dict[str, str] = {}
        missing: list[str] = []
        for change in allowed_changes("sheets", self.rules, current, fields):
            key = self.columns.get(change.field.lower())
            if key is None:
                continue
            i = header.titles.get(key)
            if i is None:
                missing.append(change.field)
                continue
            cells[f"{quoted_sheet(self.sheet)}!{a1_column(i)}{number}"] = change.after or ""
        if missing:
            raise PermanentProviderError("sheets: no column headed for " + ", ".join(sorted(missing)),
                                         code="no_column")
        if cells:
            self.client.batch_update(self.spreadsheet_id, cells)

