"""The outbox: every customer message the embedded default 'sends' lands here, once per message id.

A simulated customer replies with `noshow reply CASE TEXT`, which goes through the same inbound path a
provider's webhook would.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.contract import OutboundMessage, SendReceipt
from connectors.local.db import LocalDb, lock_key
from policies import delivery


class LocalOutbox:
    """Implements contract.MessageChannel for every channel."""

    def __init__(self, db: LocalDb, contact_key: str | None = None) -> None:
        self.db = db

    def lookup(self, message_id: str) -> SendReceipt | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT message_id, status FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
        if not row:
            return None
        return SendReceipt(message_id=row[0], provider_message_id=f"local-{row[0]}", status=row[1], duplicate=True)

    def send(self, message: OutboundMessage, contact_key: str | None = None, at: datetime | None = None,
             crm_contact_id: str | None = None, program: str | None = None) -> SendReceipt:
        """`crm_contact_id` and `program` (ids, never addresses) let the provider's later statuses of this
        message reach the contact's CRM timeline under that program's rules."""
        created = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox (message_id, case_id, contact_key, channel, recipient, subject, body, "
                "template_id, status, created_at, crm_contact_id, program) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?)",
                (message.message_id, message.case_id, contact_key, message.channel.value, message.to,
                 message.subject, message.body, message.template_id, created, crm_contact_id, program),
            )
        return SendReceipt(
            message_id=message.message_id, provider_message_id=f"local-{message.message_id}", status="sent",
            duplicate=cur.rowcount == 0,
        )

    def recent_sends(self, contact_key: str, since: datetime) -> list[datetime]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT created_at FROM outbox WHERE contact_key = ? AND created_at > ? AND status != 'failed'",
                (contact_key, since.astimezone(UTC).isoformat()),
            ).fetchall()
        return [datetime.fromisoformat(r[0]) for r in rows]

    def messages(self, case_id: str | None = None) -> list[dict[str, object]]:
        with self.db.connect() as conn:
            if case_id:
                rows = conn.execute("SELECT * FROM outbox WHERE case_id = ? ORDER BY created_at", (case_id,)).fetchall()
            else:
                rows = conn.execute("SELECT * FROM outbox ORDER BY created_at").fetchall()
        return [dict(r) for r in rows]

    def messages_by_id(self, message_id: str) -> list[dict[str, object]]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT * FROM outbox WHERE message_id = ?", (message_id,)).fetchall()
        return [dict(r) for r in rows]

    def case_for_recipient(self, recipient: str) -> str | None:
        """The case that last wrote to this address: where a reply from it belongs."""
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT case_id FROM outbox WHERE recipient = ? ORDER BY created_at DESC LIMIT 1", (recipient,)
            ).fetchone()
        return str(row[0]) if row else None

    def contact_key_for_case(self, case_id: str) -> str | None:
        """The opaque contact key of the person a case wrote to, once it has written."""
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT contact_key FROM outbox WHERE case_id = ? AND contact_key IS NOT NULL LIMIT 1", (case_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_status(self, message_id: str, status: str) -> bool:
        """Move the message to `status` unless it is already as far along (policies.delivery: providers' news
        arrives out of order). True when the status changed."""
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"outbox-status:{message_id}")
            row = conn.execute("SELECT status FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
            if row is None or not delivery.advances(row[0], status):
                return False
            conn.execute("UPDATE outbox SET status = ? WHERE message_id = ?", (status, message_id))
        return True
