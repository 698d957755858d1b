"""The embedded default's SQLite database: calendar, CRM, outbox, consent ledger and review queue.

One file, WAL mode, a short-lived connection per operation so worker threads and the API never share one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    owner_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    calendar_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS availability (
    owner_id TEXT NOT NULL,
    weekday INTEGER NOT NULL,           -- Monday = 0
    open TEXT NOT NULL,                 -- HH:MM local
    close TEXT NOT NULL,
    timezone TEXT NOT NULL,
    PRIMARY KEY (owner_id, weekday)
);
CREATE TABLE IF NOT EXISTS appointments (
    appointment_id TEXT PRIMARY KEY,
    calendar_id TEXT NOT NULL,
    owner_id TEXT,
    contact_id TEXT,
    appointment_type TEXT NOT NULL,
    start_at TEXT NOT NULL,             -- ISO UTC
    end_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'booked',   -- booked | cancelled | attended | no_show
    case_id TEXT,
    idempotency_key TEXT UNIQUE,
    value REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS appointments_calendar ON appointments (calendar_id, start_at);
CREATE TABLE IF NOT EXISTS holds (
    hold_id TEXT PRIMARY KEY,
    calendar_id TEXT NOT NULL,
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    case_id TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attendance_signals (
    appointment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT,
    joined INTEGER,
    minutes REAL,
    participant TEXT NOT NULL DEFAULT 'any',
    source TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attendance_appt ON attendance_signals (appointment_id);
CREATE TABLE IF NOT EXISTS contacts (
    contact_id TEXT PRIMARY KEY,
    name TEXT, phone TEXT, email TEXT, timezone TEXT, locale TEXT
);
CREATE TABLE IF NOT EXISTS crm_fields (
    contact_id TEXT NOT NULL,
    appointment_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (contact_id, appointment_id, field)
);
CREATE TABLE IF NOT EXISTS crm_writes (
    idempotency_key TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    appointment_id TEXT NOT NULL,
    field TEXT NOT NULL,
    before TEXT,
    after TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (idempotency_key, field)
);
CREATE TABLE IF NOT EXISTS crm_notes (
    idempotency_key TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    note TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_tasks (
    idempotency_key TEXT PRIMARY KEY,
    owner_id TEXT,
    title TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    message_id TEXT PRIMARY KEY,        -- idempotency key: case id + step
    case_id TEXT NOT NULL,
    contact_key TEXT,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    template_id TEXT,
    status TEXT NOT NULL DEFAULT 'sent',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox (recipient, created_at);
CREATE INDEX IF NOT EXISTS outbox_contact ON outbox (contact_key, created_at);
CREATE TABLE IF NOT EXISTS inbound (
    reply_id TEXT PRIMARY KEY,
    case_id TEXT,
    channel TEXT NOT NULL,
    sender_key TEXT,
    text TEXT NOT NULL,
    routed TEXT NOT NULL,               -- case | unknown_sender | closed_case
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consent (
    contact_key TEXT NOT NULL,
    channel TEXT NOT NULL,              -- sms | whatsapp | email | * (all)
    purpose TEXT NOT NULL,              -- informational | marketing | *
    status TEXT NOT NULL,               -- opted_out | opted_in
    evidence TEXT,
    evidence_channel TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (contact_key, channel, purpose)
);
CREATE TABLE IF NOT EXISTS consent_events (
    event_id TEXT PRIMARY KEY,
    contact_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    evidence TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    review_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    status TEXT NOT NULL,               -- pending | decided | lapsed
    reasons TEXT NOT NULL,
    program TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_at TEXT,
    decision TEXT,
    reviewer TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    case_id TEXT,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_tokens (
    provider TEXT NOT NULL,             -- google | outlook | salesforce | ...
    account TEXT NOT NULL,              -- which credential (a client id / mailbox / org), never a person's name
    sealed TEXT NOT NULL,               -- kid:base64(nonce + AES-GCM(token JSON)); never the token in clear
    expires_at TEXT NOT NULL,           -- ISO UTC of the access token's expiry
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, account)
);
CREATE TABLE IF NOT EXISTS waitlist (
    contact_id TEXT NOT NULL,
    appointment_type TEXT NOT NULL,
    calendar_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (contact_id, appointment_type, calendar_id)
);
"""


def lock_key(conn: sqlite3.Connection, key: str) -> None:
    """A per-key lock inside a transaction. A no-op on SQLite, where BEGIN IMMEDIATE already serialises writers;
    a Postgres store takes `pg_advisory_xact_lock` here."""


class LocalDb:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.script(SCHEMA)

    def script(self, sql: str) -> None:
        """Run DDL outside a transaction (executescript commits on its own)."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(sql)
        finally:
            conn.close()

    @contextmanager
    def connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        try:
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
