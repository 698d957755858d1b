"""Owner alerts as the embedded default keeps them (the owner's inbox in `noshow demo`), and audit rows written
once per key."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from connectors.local.db import LocalDb


class LocalAlerts:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def add(self, alert_id: str, case_id: str | None, owner_id: str | None, program: str, kind: str, summary: str,
            value: float = 0.0, at: datetime | None = None) -> bool:
        """Keep one alert; False when this alert id was already kept (a retry)."""
        with self.db.connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO owner_alerts (alert_id, case_id, owner_id, program, kind, summary, value, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (alert_id, case_id, owner_id, program, kind, summary, value, (at or datetime.now(UTC)).isoformat()),
            )
            return bool(cur.rowcount)

    def alerts(self, owner_id: str | None = None, kind: str | None = None) -> list[dict[str, object]]:
        query, params = "SELECT * FROM owner_alerts WHERE 1 = 1", list[str]()
        if owner_id is not None:
            query, params = query + " AND owner_id = ?", [*params, owner_id]
        if kind is not None:
            query, params = query + " AND kind = ?", [*params, kind]
        with self.db.connect() as conn:
            rows = conn.execute(query + " ORDER BY at, alert_id", params).fetchall()
        return [dict(r) for r in rows]

    def audit_once(self, audit_key: str, actor: str, action: str, case_id: str | None,
                   detail: dict[str, object]) -> bool:
        """One audit row per key (the audit table has no key of its own). False when already written."""
        now = datetime.now(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            cur = conn.execute("INSERT OR IGNORE INTO audit_keys (audit_key, at) VALUES (?, ?)", (audit_key, now))
            if not cur.rowcount:
                return False
            conn.execute("INSERT INTO audit (actor, action, case_id, detail, at) VALUES (?, ?, ?, ?, ?)",
                         (actor, action, case_id, json.dumps(detail, default=str), now))
            return True
