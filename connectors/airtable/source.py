"""An Airtable table as an appointment source. A record is read with the field names the Google Sheets source
documents for its header row (connectors/sheets/rows.py: `start`, `end`, `timezone`, `status`, `contact_id`,
`phone`, `email`, `name`, `type`, matched ignoring case and spacing); the appointment id is the record id
(`rec...`). Statuses are the same words (Airtable has no built-in status: a single-select field holds them).

With a webhook (NOSHOW_AIRTABLE_WEBHOOK_ID) the cursor is the webhook's payload cursor: each poll lists the
payloads after it (`mightHaveMore` pages), reads the records they name as created or changed, and returns the
new cursor; the first run reads every record and skips to the newest payload. Without a webhook the cursor is a
time and the poll lists the records modified since with `filterByFormula=IS_AFTER(LAST_MODIFIED_TIME(), ...)`.
A destroyed record is not a cancellation (write `cancelled` in its status instead).
UNVERIFIED: the record-level nesting of `changedTablesById` beyond the table (read defensively) and the
formula functions' behaviour on Airtable itself; how long payloads are kept (believed 7 days: a cursor older
than that loses changes, and the next poll lists what is left).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.airtable.client import AirtableClient
from connectors.inbound import dict_at, opt_dt
from connectors.sheets.rows import Header, HeaderError, header_key, row_snapshot
from connectors.sync import Snapshot, SyncPage

OVERLAP = timedelta(minutes=1)  # Airtable's modified times and our clock disagree a little


def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def record_snapshot(record: dict[str, Any], source: str, default_timezone: str, calendar_id: str,
                    now: datetime) -> Snapshot | None:
    record_id, fields = record.get("id"), record.get("fields")
    if not isinstance(record_id, str) or not isinstance(fields, dict):
        return None
    kept = {k: v for k, v in fields.items() if header_key(k) != "appointment_id"}
    try:
        header = Header.read(["appointment_id", *kept.keys()])
    except HeaderError:
        return None
    return row_snapshot(header, [record_id, *(_cell(v) for v in kept.values())], source, default_timezone,
                        calendar_id, now)


def changed_record_ids(payloads: list[dict[str, Any]], table_id: str | None) -> list[str]:
    """Records created or changed in the payloads, oldest first, each once (any table when `table_id` is None)."""
    out: dict[str, None] = {}
    for payload in payloads:
        for tid, change in dict_at(payload, "changedTablesById").items():
            if (table_id and tid != table_id) or not isinstance(change, dict):
                continue
            for key in ("createdRecordsById", "changedRecordsById"):
                out.update(dict.fromkeys(str(r) for r in dict_at(change, key)))
    return list(out)


class AirtableSource:
    def __init__(self, client: AirtableClient, base_id: str, table: str, webhook_id: str | None = None,
                 default_timezone: str = "UTC", source: str = "airtable",
                 first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.base_id, self.table, self.webhook_id = client, base_id, table, webhook_id
        self.default_timezone, self.source, self.first_lookback = default_timezone, source, first_lookback

    def _snaps(self, records: list[dict[str, Any]], now: datetime) -> list[Snapshot]:
        found = (record_snapshot(r, self.source, self.default_timezone, self.base_id, now) for r in records)
        return [s for s in found if s is not None]

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        if self.webhook_id:
            return self._poll_payloads(cursor, now)
        since = (opt_dt(cursor) if cursor else None) or now - self.first_lookback
        stamp = (since - OVERLAP).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        records = self.client.records(self.base_id, self.table, f"IS_AFTER(LAST_MODIFIED_TIME(), '{stamp}')")
        return SyncPage(snapshots=self._snaps(records, now), cursor=now.astimezone(UTC).isoformat())

    def _poll_payloads(self, cursor: str | None, now: datetime) -> SyncPage:
        webhook = self.webhook_id or ""
        if cursor is None or not cursor.isdigit():
            records = self.client.records(self.base_id, self.table)
            _, latest = self.client.payloads(self.base_id, webhook, None)
            return SyncPage(snapshots=self._snaps(records, now), cursor=str(latest))
        payloads, latest = self.client.payloads(self.base_id, webhook, int(cursor))
        table_id = self.table if self.table.startswith("tbl") else None
        records = [r for r in (self.client.record(self.base_id, self.table, rid)
                               for rid in changed_record_ids(payloads, table_id)) if r is not None]
        return SyncPage(snapshots=self._snaps(records, now), cursor=str(latest))
