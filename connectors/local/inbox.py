"""Every customer message the engine received, with where it was routed (a case, a waitlist offer, nobody):
the record a human looks at when a reply could not be handled on its own."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.local.db import LocalDb
from domain.models import Reply


class LocalInbox:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def record(self, reply: Reply, case_id: str | None, routed: str) -> None:
        """Once per reply id: a re-delivered message keeps its first routing."""
        with self.db.connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO inbound (reply_id, case_id, channel, sender_key, text, routed, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (reply.reply_id, case_id, reply.channel.value, None, reply.text, routed,
                 reply.received_at.isoformat()),
            )

    def add_task(self, reply: Reply, case_id: str | None, routed: str, intent: str) -> None:
        """A message no case could act on, for a human: once per reply."""
        with self.db.connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO staff_tasks (reply_id, case_id, routed, intent, status, at) "
                "VALUES (?, ?, ?, ?, 'open', ?)",
                (reply.reply_id, case_id, routed, intent, datetime.now(UTC).isoformat()),
            )

    def tasks(self, status: str = "open", limit: int = 100) -> list[dict[str, object]]:
        """Staff tasks, newest first, with the message itself (what the human must read)."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT t.reply_id, t.case_id, t.routed, t.intent, t.status, t.at, i.channel, i.text "
                "FROM staff_tasks t LEFT JOIN inbound i ON i.reply_id = t.reply_id WHERE t.status = ? "
                "ORDER BY t.at DESC LIMIT ?", (status, limit),
            ).fetchall()
        return [dict(r) for r in rows]
