"""Row digests of a polled source that has no change feed (a Google Sheet): one generation per poll, named by
the cursor the poll returns.

A poll diffs the rows it reads against the generation its input cursor names and writes the new generation
before returning its cursor; the reconcile workflow commits that cursor only after delivery, so a failed
delivery diffs against the old generation again and loses nothing. Generations other than the committed one and
the newest are pruned.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.local.db import LocalDb, lock_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS row_hashes (
    source TEXT NOT NULL,               -- the reconcile source ("sheets")
    generation TEXT NOT NULL,           -- the cursor a poll returned
    appointment_id TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (source, generation, appointment_id)
);
"""


class RowHashes:
    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    def load(self, source: str, generation: str) -> dict[str, str]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT appointment_id, row_hash FROM row_hashes WHERE source = ? AND generation = ?",
                                (source, generation)).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def save(self, source: str, generation: str, hashes: dict[str, str], keep: str | None) -> None:
        """Store `generation` (unless it is stored already) and drop every other one except `keep`."""
        now = datetime.now(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"row-hashes:{source}")
            conn.execute("DELETE FROM row_hashes WHERE source = ? AND generation <> ? AND generation <> ?",
                         (source, generation, keep or generation))
            present = conn.execute("SELECT 1 FROM row_hashes WHERE source = ? AND generation = ? LIMIT 1",
                                   (source, generation)).fetchone()
            if present is not None:
                return
            for appointment_id, digest in hashes.items():
                conn.execute("INSERT INTO row_hashes (source, generation, appointment_id, row_hash, written_at) "
                             "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, generation, appointment_id) DO NOTHING",
                             (source, generation, appointment_id, digest, now))
