"""What waits for a person: replies nobody could route (unknown senders, closed cases, unanswered waitlist
offers) and the staff tasks the engine opened (overdue reviews, replies needing a human), each resolvable once.
Built on the records the engine already keeps (`inbound`, `crm_tasks`); resolutions are kept beside them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.local.db import LocalDb

UNROUTED = ("unknown_sender", "closed_case", "waitlist_offer")


class StaffInbox:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def items(self, include_resolved: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first: kind, id, when, what (the customer's text for a reply), the case and the resolution."""
        with self.db.connect() as conn:
            replies = conn.execute(
                "SELECT 'inbound:' || i.reply_id AS item_id, i.routed AS kind, i.case_id, i.channel, i.text, i.at, "
                "r.resolved_by, r.note, r.at AS resolved_at FROM inbound i "
                "LEFT JOIN staff_resolutions r ON r.item_id = 'inbound:' || i.reply_id "
                f"WHERE i.routed IN ({','.join('?' * len(UNROUTED))}) ORDER BY i.at DESC LIMIT ?",
                (*UNROUTED, limit),
            ).fetchall()
            tasks = conn.execute(
                "SELECT 'task:' || t.idempotency_key AS item_id, 'staff_task' AS kind, NULL AS case_id, "
                "NULL AS channel, t.title AS text, t.at, r.resolved_by, r.note, r.at AS resolved_at "
                "FROM crm_tasks t LEFT JOIN staff_resolutions r ON r.item_id = 'task:' || t.idempotency_key "
                "WHERE t.idempotency_key NOT LIKE 'inbound-%' ORDER BY t.at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        rows = [dict(r) for r in [*replies, *tasks]]
        if not include_resolved:
            rows = [r for r in rows if r["resolved_by"] is None]
        return sorted(rows, key=lambda r: str(r["at"]), reverse=True)[:limit]

    def resolve(self, item_id: str, who: str, note: str | None = None) -> bool:
        """Mark an item resolved; False when there is no such item or it was resolved already."""
        kind, _, key = item_id.partition(":")
        with self.db.connect(immediate=True) as conn:
            if kind == "inbound":
                found = conn.execute("SELECT 1 FROM inbound WHERE reply_id = ?", (key,)).fetchone()
            elif kind == "task":
                found = conn.execute("SELECT 1 FROM crm_tasks WHERE idempotency_key = ?", (key,)).fetchone()
            else:
                found = None
            if found is None:
                return False
            cur = conn.execute(
                "INSERT OR IGNORE INTO staff_resolutions (item_id, resolved_by, note, at) VALUES (?, ?, ?, ?)",
                (item_id, who, note, datetime.now(UTC).isoformat()),
            )
        return cur.rowcount == 1

    def resolutions(self, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Resolutions of items kept elsewhere (failed sends and lapsed reviews live in the reporting ledger)."""
        if not item_ids:
            return {}
        with self.db.connect() as conn:
            rows = conn.execute(
                f"SELECT item_id, resolved_by, note, at FROM staff_resolutions WHERE item_id IN "
                f"({','.join('?' * len(item_ids))})", item_ids,
            ).fetchall()
        return {str(r["item_id"]): {"resolved_by": r["resolved_by"], "note": r["note"], "resolved_at": r["at"]}
                for r in rows}

    def record_resolution(self, item_id: str, who: str, note: str | None = None) -> bool:
        """Resolve an item whose existence the caller checked where it is kept; False when resolved already."""
        with self.db.connect(immediate=True) as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO staff_resolutions (item_id, resolved_by, note, at) VALUES (?, ?, ?, ?)",
                (item_id, who, note, datetime.now(UTC).isoformat()),
            )
        return cur.rowcount == 1

    def assign(self, review_id: str, assignee: str, by: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO review_assignments (review_id, assignee, assigned_by, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (review_id) DO UPDATE SET assignee = excluded.assignee, "
                "assigned_by = excluded.assigned_by, at = excluded.at",
                (review_id, assignee, by, datetime.now(UTC).isoformat()),
            )

    def assignees(self) -> dict[str, str]:
        with self.db.connect() as conn:
            return {str(r[0]): str(r[1]) for r in conn.execute("SELECT review_id, assignee FROM review_assignments")}
