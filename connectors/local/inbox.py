"""Every customer message the engine received, with where it was routed (a case, a waitlist offer, nobody):
the record a human looks at when a reply could not be handled on its own."""

from __future__ import annotations

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
