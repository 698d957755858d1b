"""A Google Sheet polled as an appointment source. The Sheets API has no change feed and no updated-since filter
(https://developers.google.com/sheets/api/guides/values), so every poll reads the whole range with
`values.get` and compares each row's digest with the one stored for its appointment id
(connectors/local/row_hashes.py); only new and changed rows become snapshots, and the reconcile differ turns
them into booked / rescheduled / cancelled / no-show / attended events. The cursor names the stored generation
of digests. A row deleted from the sheet is not a cancellation (people tidy sheets): write `cancelled` in its
status instead.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from connectors.contract import PermanentProviderError
from connectors.inbound import digest
from connectors.local.row_hashes import RowHashes
from connectors.sheets.client import SheetsClient
from connectors.sheets.rows import Header, HeaderError, row_hash, row_snapshot
from connectors.sync import Snapshot, SyncPage

log = structlog.get_logger(__name__)


class SheetsSource:
    def __init__(self, client: SheetsClient, hashes: RowHashes, spreadsheet_id: str, a1_range: str,
                 default_timezone: str = "UTC", source: str = "sheets") -> None:
        self.client, self.hashes, self.source = client, hashes, source
        self.spreadsheet_id, self.range, self.default_timezone = spreadsheet_id, a1_range, default_timezone

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        rows = self.client.values(self.spreadsheet_id, self.range)
        if not rows:
            return SyncPage(snapshots=[], cursor=cursor)
        try:
            header = Header.read(rows[0])
        except HeaderError as exc:
            raise PermanentProviderError(f"sheets: {exc}", code="bad_header") from None
        seen = self.hashes.load(self.source, cursor) if cursor else {}
        current: dict[str, str] = {}
        snaps: list[Snapshot] = []
        skipped = 0
        for row in rows[1:]:
            snap = row_snapshot(header, row, self.source, self.default_timezone, self.spreadsheet_id, now)
            if snap is None:
                skipped += int(any(str(c).strip() for c in row))
                continue
            key, value = snap.appointment.appointment_id, row_hash(row)
            if key in current:
                continue  # the first row with an id wins; a copy pasted below it is not a second appointment
            current[key] = value
            if seen.get(key) != value:
                snaps.append(snap)
        if skipped:
            log.info("sheets_rows_unread", source=self.source, rows=skipped)
        generation = "g" + digest(*sorted(current.items()))
        self.hashes.save(self.source, generation, current, keep=cursor)
        return SyncPage(snapshots=snaps, cursor=generation)
