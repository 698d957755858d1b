"""The intent to send, recorded before the provider is called, and the reservation that decides it.

One transaction per send: lock the contact and the address (`lock_key`), read their consent and their recent
sends, let the caller's pre-send rule decide, and when it allows, write the intent row. Two cases of one contact
(or two contacts of one address) therefore take turns: the second sees the first's reservation, so no two
concurrent sends both pass a cap of N, and an opt-out recorded first (it takes the same lock) blocks the send.
The row names the case and the address, so a reply arriving while the provider is still answering finds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from connectors.local.db import Conn, LocalDb, lock_key

T = TypeVar("T")


def subject_lock(key: str) -> str:
    """The lock of one consent subject (a contact key or an address key), shared with the consent ledger."""
    return f"consent-subject:{key}"


@dataclass(frozen=True)
class SendFacts:
    """What the pre-send rule reads, as of inside the reservation's transaction."""

    opted_out: frozenset[str]  # channels opted out ("*": all) for the contact or the address, any purpose given
    recent: list[datetime]  # earlier sends to the contact or the address since `since`, this one excluded


@dataclass(frozen=True)
class Intent:
    message_id: str
    case_id: str
    contact_key: str
    address_key: str | None
    channel: str
    at: datetime


def opted_out_channels(conn: Conn, keys: list[str], purpose: str) -> frozenset[str]:
    marks = ", ".join("?" for _ in keys)
    rows = conn.execute(f"SELECT channel FROM consent WHERE contact_key IN ({marks}) AND status = 'opted_out' "
                        "AND purpose IN (?, '*')", (*keys, purpose)).fetchall()
    return frozenset(str(r[0]) for r in rows)


class SendIntents:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def reserve(self, intent: Intent, since: datetime, purpose: str,
                decide: Callable[[SendFacts], tuple[bool, T]]) -> T:
        """Decide the send with `decide` under the contact's and the address's locks; write the intent when it
        says yes. A retry of the same message id is decided again, without counting itself."""
        keys = [k for k in (intent.contact_key, intent.address_key) if k]
        with self.db.connect(immediate=True) as conn:
            for key in sorted(set(keys)):
                lock_key(conn, subject_lock(key))
            facts = SendFacts(opted_out=opted_out_channels(conn, keys, purpose),
                              recent=self._recent(conn, intent, since))
            allowed, answer = decide(facts)
            if allowed:
                conn.execute(
                    "INSERT INTO send_intents (message_id, case_id, contact_key, address_key, channel, status, "
                    "created_at) VALUES (?, ?, ?, ?, ?, 'sending', ?) ON CONFLICT (message_id) DO UPDATE SET "
                    "status = 'sending', channel = excluded.channel, address_key = excluded.address_key, "
                    "created_at = excluded.created_at",
                    (intent.message_id, intent.case_id, intent.contact_key, intent.address_key, intent.channel,
                     intent.at.astimezone(UTC).isoformat()),
                )
        return answer

    def _recent(self, conn: Conn, intent: Intent, since: datetime) -> list[datetime]:
        after = since.astimezone(UTC).isoformat()
        rows = conn.execute(
            "SELECT message_id, created_at FROM send_intents WHERE (contact_key = ? OR address_key = ?) "
            "AND created_at > ? AND status != 'failed' AND message_id != ? "
            # sends recorded before intents existed, and consent confirmations, are in the outbox only
            "UNION SELECT message_id, created_at FROM outbox WHERE contact_key = ? AND created_at > ? "
            "AND status != 'failed' AND message_id != ?",
            (intent.contact_key, intent.address_key, after, intent.message_id, intent.contact_key, after,
             intent.message_id),
        ).fetchall()
        by_id = {str(r[0]): datetime.fromisoformat(str(r[1])) for r in rows}
        return sorted(by_id.values())

    def settle(self, message_id: str, status: str) -> None:
        """'sent', or 'failed' (a refusal: it no longer counts against a cap)."""
        with self.db.connect() as conn:
            conn.execute("UPDATE send_intents SET status = ? WHERE message_id = ?", (status, message_id))

    def case_for_address(self, address_key: str) -> str | None:
        """The case that last meant to write to this address (sent or still with the provider)."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT case_id FROM send_intents WHERE address_key = ? AND status != 'failed' "
                               "ORDER BY created_at DESC LIMIT 1", (address_key,)).fetchone()
        return str(row[0]) if row else None

    def rows(self, case_id: str | None = None) -> list[dict[str, object]]:
        with self.db.connect() as conn:
            if case_id:
                found = conn.execute("SELECT * FROM send_intents WHERE case_id = ? ORDER BY created_at",
                                     (case_id,)).fetchall()
            else:
                found = conn.execute("SELECT * FROM send_intents ORDER BY created_at").fetchall()
        return [dict(r) for r in found]
