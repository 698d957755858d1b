"""Replies found in the mailbox after a Gmail push: `history.list` from the stored history id
(`historyTypes=messageAdded`, `labelId=INBOX`), each added message read (`format=full`) into an InboundMessage
the intake routes as it routes SendGrid Inbound Parse replies (by the sender's address). The mailbox's own sent
mail and messages from its own address are skipped. The stored id moves to the newest one the history answered
(or the push named) only in the transaction that hands the messages off (`WebhookResult.on_handoff`): if the
hand-off fails (a full intake queue, a crash, an address the intake refuses), the id stays where it was and
Pub/Sub's redelivery, or the next push, reads the same messages again. The first push only sets it. A 404
(the stored id is too old: "perform a full sync", https://developers.google.com/gmail/api/guides/sync) restarts
from the pushed id: replies in the gap are not read, and the case's own follow-ups still run. Table `gmail_history`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

import structlog

from connectors.contract import InboundMessage
from connectors.gmail.client import GmailClient, HistoryExpired
from connectors.local.db import Conn, LocalDb
from connectors.sendgrid.parse import MAX_TEXT, strip_quoted
from domain import addresses
from domain.models import Channel

log = structlog.get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gmail_history (
    mailbox TEXT PRIMARY KEY,           -- the engine's own sending mailbox, never a customer's
    history_id TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


class HistoryStore:
    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    def get(self, mailbox: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT history_id FROM gmail_history WHERE mailbox = ?", (mailbox,)).fetchone()
        return str(row[0]) if row else None

    def put(self, mailbox: str, history_id: str) -> None:
        with self.db.connect(immediate=True) as conn:
            self.put_in(conn, mailbox, history_id)

    @staticmethod
    def put_in(conn: Conn, mailbox: str, history_id: str) -> None:
        conn.execute("INSERT INTO gmail_history (mailbox, history_id, updated_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (mailbox) DO UPDATE SET history_id = excluded.history_id, "
                     "updated_at = excluded.updated_at", (mailbox, history_id, datetime.now(UTC).isoformat()))

    @classmethod
    def advance_in(cls, conn: Conn, mailbox: str, history_id: str) -> None:
        """Move the stored id forward to `history_id`, never back (two pushes handed off out of order)."""
        row = conn.execute("SELECT history_id FROM gmail_history WHERE mailbox = ?", (mailbox,)).fetchone()
        current = str(row[0]) if row else ""
        if not (current.isdigit() and int(current) >= int(history_id)):
            cls.put_in(conn, mailbox, history_id)


def _headers(payload: dict[str, Any]) -> dict[str, str]:
    return {str(h.get("name", "")).lower(): str(h.get("value", "")) for h in payload.get("headers") or []
            if isinstance(h, dict)}


def plain_text(payload: dict[str, Any]) -> str:
    """The first text/plain part of a `format=full` message payload (base64url `body.data`)."""
    stack = [payload]
    while stack:
        part = stack.pop(0)
        if str(part.get("mimeType", "")).startswith("text/plain"):
            data = str((part.get("body") or {}).get("data") or "")
            try:
                return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                return ""
        stack.extend(p for p in part.get("parts") or [] if isinstance(p, dict))
    return ""


def reply_message(message: dict[str, Any], own_address: str) -> InboundMessage | None:
    if "SENT" in (message.get("labelIds") or []):
        return None
    payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
    headers = _headers(payload or {})
    sender = parseaddr(headers.get("from", ""))[1].lower()
    if not sender or sender == own_address.lower():
        return None
    try:
        addresses.normalise_email(sender)
    except addresses.AddressError:
        # the intake refuses a delivery with an unreadable sender: kept, it would hold the history id back forever
        log.info("gmail_reply_unreadable_sender")
        return None
    received = str(message.get("internalDate") or "")
    at = datetime.fromtimestamp(int(received) / 1000, UTC) if received.isdigit() else datetime.now(UTC)
    return InboundMessage(provider_message_id=(headers.get("message-id", "").strip("<> ")[:200]
                                               or f"gmail-{message.get('id')}"),
                          channel=Channel.email, sender=sender,
                          recipient=parseaddr(headers.get("to", ""))[1].lower() or None,
                          text=strip_quoted(plain_text(payload or {}))[:MAX_TEXT], received_at=at)


class GmailReplies:
    def __init__(self, client: GmailClient, store: HistoryStore, own_address: str) -> None:
        self.client, self.store, self.own = client, store, own_address.lower()

    def sync(self, mailbox: str, pushed_history_id: str) -> tuple[list[InboundMessage], Callable[[Conn], None] | None]:
        """The replies added since the stored id, and the write that moves the id past them, for the hand-off's
        transaction (None when there is nothing to move)."""
        if mailbox != self.own:
            return [], None  # a push for another mailbox the topic also carries
        start = self.store.get(mailbox)
        if start is None:
            self.store.put(mailbox, pushed_history_id)
            return [], None
        try:
            ids, latest = self.client.added_since(start)
        except HistoryExpired:
            log.info("gmail_history_expired")
            self.store.put(mailbox, pushed_history_id)
            return [], None
        found = [reply_message(self.client.message(i), self.own) for i in ids]
        newest = str(max((int(x) for x in (latest, pushed_history_id, start) if x and x.isdigit()), default=0))

        def advance(conn: Conn) -> None:
            self.store.advance_in(conn, mailbox, newest)

        return [m for m in found if m is not None], advance
