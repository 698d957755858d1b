"""The local review queue (the reviewer notifier of the embedded default) and the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from connectors.local.db import LocalDb


class LocalReviewQueue:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def request_review(self, case_id: str, summary: str, reasons: list[str], idempotency_key: str,
                       program: str = "default") -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO reviews (review_id, case_id, status, reasons, program, requested_at) "
                "VALUES (?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING",
                (idempotency_key, case_id, json.dumps(reasons), program, datetime.now(UTC).isoformat()),
            )

    def mark(self, review_id: str, status: str, decision: str | None = None, reviewer: str | None = None) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "UPDATE reviews SET status = ?, decision = ?, reviewer = ?, decided_at = ? WHERE review_id = ?",
                (status, decision, reviewer, datetime.now(UTC).isoformat(), review_id),
            )

    def pending(self) -> list[dict[str, object]]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT review_id, case_id, reasons, program, requested_at FROM reviews WHERE status = 'pending' "
                "ORDER BY requested_at"
            ).fetchall()
        return [{**dict(r), "reasons": json.loads(r["reasons"])} for r in rows]

    def audit(self, actor: str, action: str, case_id: str | None, detail: dict[str, object]) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO audit (actor, action, case_id, detail, at) VALUES (?, ?, ?, ?, ?)",
                (actor, action, case_id, json.dumps(detail, default=str), datetime.now(UTC).isoformat()),
            )

    def audit_log(self, case_id: str | None = None) -> list[dict[str, object]]:
        with self.db.connect() as conn:
            if case_id:
                rows = conn.execute("SELECT * FROM audit WHERE case_id = ? ORDER BY audit_id", (case_id,)).fetchall()
            else:
                rows = conn.execute("SELECT * FROM audit ORDER BY audit_id").fetchall()
        return [dict(r) for r in rows]
