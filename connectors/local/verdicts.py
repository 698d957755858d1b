"""Per-contact case history (opaque contact keys only), for repeat no-show routing and reply routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.local.db import LocalDb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS case_verdicts (
    case_id TEXT PRIMARY KEY,
    contact_key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    appointment_start TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_verdicts_contact ON case_verdicts (contact_key, appointment_start);
"""


class VerdictLog:
    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(_SCHEMA)

    def record_verdict(self, case_id: str, contact_key: str, verdict: str, appointment_start: datetime) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO case_verdicts (case_id, contact_key, verdict, appointment_start) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (case_id) DO UPDATE SET contact_key = excluded.contact_key, verdict = excluded.verdict, "
                "appointment_start = excluded.appointment_start",
                (case_id, contact_key, verdict, appointment_start.astimezone(UTC).isoformat()),
            )

    def prior_no_shows(self, contact_key: str, case_id: str, before: datetime, window_days: int) -> int:
        since = before - timedelta(days=window_days)
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM case_verdicts WHERE contact_key = ? AND case_id != ? "
                "AND verdict IN ('no_show', 'late_cancel') AND appointment_start >= ? AND appointment_start < ?",
                (contact_key, case_id, since.astimezone(UTC).isoformat(), before.astimezone(UTC).isoformat()),
            ).fetchone()
        return int(row[0]) if row else 0
