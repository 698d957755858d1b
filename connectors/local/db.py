"""The engine's operational store: calendar, CRM, outbox, inbox, consent ledger, review queue, waitlist and the
connectors' bookkeeping, in one SQL database.

SQLite by default (one file, WAL, zero set-up), Postgres when `NOSHOW_DATABASE_URL` names one; the schema is
kept by the Alembic migrations in `migrations/` (run on start, see `connectors.local.engine`). Stores keep one
call style on both: `with db.connect() as conn: conn.execute("... ? ...", params)` in a transaction,
`connect(immediate=True)` when the transaction will write after reading. On SQLite that is `BEGIN IMMEDIATE`
(the file's write lock, which serialises every writer); on Postgres a normal transaction, and a read-then-write
that must not interleave with another takes `lock_key(conn, key)` first. SQLite-only SQL (`?`, `INSERT OR
IGNORE`, `INSERT OR REPLACE`, `IFNULL`) is translated for Postgres by `connectors.local.sql`.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from connectors.local import engine as engines
from connectors.local.sql import ddl_for_postgres, replace_target, split_script, to_postgres

__all__ = ["SCHEMA", "Conn", "IntegrityError", "LocalDb", "Row", "lock_key"]

# Additive DDL not yet in a migration (a new table or index): run after the migrations on every start, on both
# databases, so it must be idempotent (`IF NOT EXISTS`). Every table below is also in migration 0001.
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
CREATE TABLE IF NOT EXISTS waitlist (
    contact_id TEXT NOT NULL,
    appointment_type TEXT NOT NULL,
    calendar_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (contact_id, appointment_type, calendar_id)
);
"""


class Row(tuple):  # type: ignore[type-arg]
    """A result row read by position (`row[0]`), by column name (`row["name"]`) or as `dict(row)`."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _plain(value: Any) -> Any:
    # Postgres sums and averages come back as Decimal; SQLite gives int or float
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Cursor:
    """What `Conn.execute` returns: sqlite3's cursor surface (fetchone, fetchall, rowcount, lastrowid)."""

    def __init__(self, result: CursorResult[Any], postgres: bool) -> None:
        self._result = result
        self._postgres = postgres
        self._index: dict[str, int] | None = None
        self.rowcount: int = result.rowcount

    @property
    def lastrowid(self) -> int | None:
        return None if self._postgres else self._result.lastrowid

    def _row(self, raw: Sequence[Any]) -> Row:
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self._result.keys())}
        values = [_plain(v) for v in raw] if self._postgres else raw
        return Row(values, self._index)

    def fetchone(self) -> Row | None:
        if not self._result.returns_rows:
            return None
        raw = self._result.fetchone()
        return None if raw is None else self._row(raw)

    def fetchall(self) -> list[Row]:
        if not self._result.returns_rows:
            return []
        return [self._row(raw) for raw in self._result.fetchall()]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class Conn:
    """One transaction on a pooled connection; `sa` is the SQLAlchemy connection for Core statements."""

    def __init__(self, sa: Connection, db: LocalDb) -> None:
        self.sa = sa
        self.db = db
        self.postgres = db.dialect == "postgresql"

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        if self.postgres:
            keys = {}
            table = replace_target(sql)
            if table is not None:
                keys[table] = self.db.primary_key(table)
            sql = to_postgres(sql, True, keys)  # psycopg reads % even without parameters
        if isinstance(params, Mapping):
            result = self.sa.exec_driver_sql(sql, dict(params))
        else:
            result = self.sa.exec_driver_sql(sql, tuple(params))
        return Cursor(result, self.postgres)


def _key_number(key: str) -> int:
    """A stable signed 64-bit number for a lock key (the same in every process and on every host)."""
    return int(struct.unpack(">q", hashlib.blake2b(key.encode(), digest_size=8).digest())[0])


def lock_key(conn: Conn, key: str) -> None:
    """Serialise transactions on `key` (e.g. one address at a time) until this transaction ends.

    Postgres: `pg_advisory_xact_lock` on a 64-bit hash of the key. SQLite: nothing to do, since a transaction
    opened with `connect(immediate=True)` already holds the only write lock."""
    if conn.postgres:
        conn.sa.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_key_number(key),))


_turns: dict[tuple[int, str], threading.RLock] = {}
_turns_lock = threading.Lock()


def _sqlite_turn(url: str) -> threading.RLock:
    """One lock per SQLite file per process (re-entrant: a store may open a second transaction inside one)."""
    with _turns_lock:
        return _turns.setdefault((os.getpid(), url), threading.RLock())


class LocalDb:
    """The store at `target`: a SQLAlchemy URL (`sqlite:///...`, `postgresql+psycopg://...`) or a SQLite path."""

    def __init__(self, target: str | Path, migrate: bool = True) -> None:
        self.url = engines.database_url(target)
        self.path = engines.sqlite_file(self.url)  # None on Postgres
        self.engine = engines.shared_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._keys: dict[str, tuple[str, ...]] = {}
        self._keys_lock = threading.Lock()
        self._turn: AbstractContextManager[object] = _sqlite_turn(self.url) if self.dialect == "sqlite" \
            else nullcontext()
        if migrate:
            engines.migrate(self.url)
        self.script(SCHEMA)

    def __repr__(self) -> str:
        return f"LocalDb({self.engine.url.render_as_string(hide_password=True)!r})"

    def script(self, sql: str) -> None:
        """Run idempotent DDL (`CREATE ... IF NOT EXISTS`), once per process for the same text."""
        done = _scripts.setdefault(self.url, set())
        digest = hashlib.sha256(sql.encode()).hexdigest()
        if digest in done:
            return
        with self.connect(immediate=True) as conn:
            if conn.postgres:
                # two replicas creating the same new table at once would collide in the catalogue
                lock_key(conn, "noshow-local-ddl")
            for statement in split_script(sql):
                conn.sa.exec_driver_sql(ddl_for_postgres(statement) if conn.postgres else statement)
        done.add(digest)

    def primary_key(self, table: str) -> tuple[str, ...]:
        with self._keys_lock:
            if table not in self._keys:
                self._keys[table] = tuple(inspect(self.engine).get_pk_constraint(table)["constrained_columns"])
            return self._keys[table]

    @contextmanager
    def connect(self, immediate: bool = False) -> Iterator[Conn]:
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in its busy handler
        # (up to 100 ms a retry) however soon the lock is free: this process's transactions take turns here,
        # first come first served, and only other processes meet the busy handler. Postgres locks rows itself.
        with self._turn, self.engine.connect() as sa:
            if immediate:
                sa = sa.execution_options(immediate=True)
            with sa.begin():
                yield Conn(sa, self)

    def dispose(self) -> None:
        """Close this process's pooled connections (tests, shutdown)."""
        engines.dispose(self.url)
        _scripts.pop(self.url, None)


_scripts: dict[str, set[str]] = {}
