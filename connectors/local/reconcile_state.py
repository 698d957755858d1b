"""What reconciliation has seen, in the local database: the appointment index and the last committed cursor per
source. Both survive restarts, so a restart neither re-announces old bookings nor forgets them."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.local.db import LocalDb
from domain.reconcile import IndexEntry

SCHEMA = """
CREATE TABLE IF NOT EXISTS reconcile_index (
    source TEXT NOT NULL,               -- the appointment's source ("calcom", "google", ...)
    appointment_id TEXT NOT NULL,
    start_at TEXT NOT NULL,             -- ISO UTC
    end_at TEXT NOT NULL,
    status TEXT NOT NULL,               -- active | cancelled | rescheduled | no_show | attended
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, appointment_id)
);
CREATE TABLE IF NOT EXISTS reconcile_cursor (
    source TEXT PRIMARY KEY,            -- the reconcile source name (ReconcileInput.source)
    cursor TEXT NOT NULL,               -- ISO time, Google sync token or Graph delta link: provider-opaque
    updated_at TEXT NOT NULL
);
"""


class SqliteAppointmentIndex:
    """activities.reconcile.AppointmentIndex in the local database file: survives restarts."""

    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    def get(self, source: str, appointment_id: str) -> IndexEntry | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT start_at, end_at, status FROM reconcile_index "
                               "WHERE source = ? AND appointment_id = ?", (source, appointment_id)).fetchone()
        if row is None:
            return None
        return IndexEntry(start=datetime.fromisoformat(row[0]), end=datetime.fromisoformat(row[1]), status=row[2])

    def put(self, source: str, appointment_id: str, entry: IndexEntry) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO reconcile_index (source, appointment_id, start_at, end_at, status, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, appointment_id) DO UPDATE SET "
                "start_at = excluded.start_at, end_at = excluded.end_at, status = excluded.status, "
                "updated_at = excluded.updated_at",
                (source, appointment_id, entry.start.astimezone(UTC).isoformat(),
                 entry.end.astimezone(UTC).isoformat(), entry.status, datetime.now(UTC).isoformat()),
            )


class SqliteCursorStore:
    """The last committed cursor per reconcile source."""

    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    def get(self, source: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT cursor FROM reconcile_cursor WHERE source = ?", (source,)).fetchone()
        return str(row[0]) if row else None

    def put(self, source: str, cursor: str) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO reconcile_cursor (source, cursor, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                (source, cursor, datetime.now(UTC).isoformat()),
            )

    def forget(self, source: str) -> None:
        """The next run is a baseline again (only future bookings start cases)."""
        with self.db.connect(immediate=True) as conn:
            conn.execute("DELETE FROM reconcile_cursor WHERE source = ?", (source,))
