"""The append-only ledger of case events: SQLite (WAL) by default, Postgres by URL, migrated by Alembic.

Activities append; nothing updates or deletes a ledger row. Appending the same event id again is a no-op,
also when two workers race (the unique key decides, not a read-then-write). Each append refreshes the
derived `case_facts` rows of the cases it touched in the same transaction.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from domain.models import LedgerEvent
from reporting.facts import case_facts
from reporting.schema import case_facts as facts_table
from reporting.schema import ledger_events

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///data/ledger.db"
VERSION_TABLE = "ledger_alembic_version"  # as in migrations/env.py
CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit

# Free-text fields are checked for contact details; ids are opaque by construction (hashes).
_EMAIL = re.compile(r"[^\s@<>()]+@[^\s@<>()]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+\d[\d\s().-]{8,}\d|\b\d{3}[-.\s]\d{3}[-.\s]\d{4}\b")


class PIIError(ValueError):
    """An event carried something that looks like an email address or a phone number. Names the field only."""


def pii_fields(ev: LedgerEvent) -> list[str]:
    """Fields of `ev` whose text looks like contact details (the values themselves are never echoed)."""
    texts: dict[str, str | None] = {
        "case_id": ev.case_id, "source": ev.source, "appointment_type": ev.appointment_type,
        "owner_id": ev.owner_id, "location_id": ev.location_id, "template_id": ev.template_id,
        "segment": ev.segment, "arm": ev.arm, "outcome": ev.outcome, "reason": ev.reason, "program": ev.program,
        **{f"data.{k}": v for k, v in ev.data.items() if isinstance(v, str)},
    }
    found = [name for name, value in texts.items() if value and _EMAIL.search(value)]
    # phone patterns only in free text: opaque ids are hex hashes that may hold long digit runs
    for name in ("reason", "outcome", *(k for k in texts if k.startswith("data."))):
        value = texts.get(name)
        if value and _PHONE.search(value) and name not in found:
            found.append(name)
    return found


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)
    database = parsed.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if memory:
        # one shared connection, or every checkout would see its own empty database
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable except the last commits on power loss
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _row(ev: LedgerEvent) -> dict[str, Any]:
    at = ev.at if ev.at.tzinfo is not None else ev.at.replace(tzinfo=UTC)
    return {
        "event_id": ev.event_id, "case_id": ev.case_id, "type": ev.type, "at": at, "source": ev.source,
        "appointment_type": ev.appointment_type, "kind": str(ev.kind) if ev.kind else None,
        "owner_id": ev.owner_id, "location_id": ev.location_id,
        "channel": str(ev.channel) if ev.channel else None, "template_id": ev.template_id,
        "segment": ev.segment, "arm": ev.arm, "value": ev.value, "outcome": ev.outcome, "reason": ev.reason,
        "data": dict(ev.data), "program": ev.program or None,
    }


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """An exclusive lock beside a SQLite ledger file (Postgres takes an advisory lock in the transaction)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _revision(conn: Connection) -> str | None:
    """The ledger schema's current Alembic revision, None before the first migration."""
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Ledger:
    """Append-only case events. Construct with a SQLAlchemy URL, then `migrate()` (or use `Ledger.open`)."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name

    @classmethod
    def open(cls, url: str = DEFAULT_URL) -> Ledger:
        ledger = cls(url)
        ledger.migrate()
        return ledger

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent; run at every start).

        Upgrading an existing ledger also recomputes every case summary in the same transaction: a new revision
        is how a changed definition in `reporting.facts` reaches the stored summaries, and no report ever sees
        the new schema with summaries made by the old definitions.
        """
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        # the API and the worker start together and both migrate: one at a time, or both create the tables
        with _migration_lock(self.url), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('noshow-ledger-migrate'))")
            before = _revision(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if before is not None and _revision(conn) != before:
                self._rebuild(conn)

    # ------------------------------------------------------------------ writing

    def append(self, ev: LedgerEvent) -> bool:
        """Record one event. True if it was new, False if this event id was already in the ledger."""
        return self.append_many([ev]) == 1

    def append_many(self, events: Iterable[LedgerEvent]) -> int:
        """Record events in one transaction; returns how many were new (repeats of known ids are skipped)."""
        batch = list(events)
        if not batch:
            return 0
        for ev in batch:
            fields = pii_fields(ev)
            if fields:
                raise PIIError(f"ledger event {ev.event_id!r} looks like it holds contact details in: "
                               f"{', '.join(fields)}; the ledger takes opaque ids only")
        rows = list({ev.event_id: _row(ev) for ev in batch}.values())
        case_ids = sorted({r["case_id"] for r in rows})
        with self.engine.begin() as conn:
            # the first statement writes, so SQLite takes its write lock now (and waits for it) instead of
            # failing on a read-to-write upgrade; Postgres serialises per case with advisory locks
            if self.dialect == "postgresql":
                for case_id in case_ids:
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": case_id})
            self._fill_programs(conn, rows)
            inserted = self._insert(conn, rows)
            if inserted:
                self._refresh(conn, case_ids)
        return inserted

    def _fill_programs(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Give a row without a program its case's: writers outside the case (provider statuses, replies the API
        routes, bookings) do not know it, and every row of a case belongs to the case's program. From the batch
        first, else from the case's summary (refreshed in every append, under the same lock)."""
        known: dict[str, str] = {}
        for row in rows:
            if row["program"]:
                known.setdefault(row["case_id"], row["program"])
        wanted = sorted({r["case_id"] for r in rows if not r["program"]} - set(known))
        for chunk in _chunks(wanted):
            found = conn.execute(
                select(facts_table.c.case_id, facts_table.c.program)
                .where(facts_table.c.case_id.in_(chunk), facts_table.c.program.is_not(None))
            ).all()
            known.update({case_id: program for case_id, program in found})
        for row in rows:
            if not row["program"]:
                row["program"] = known.get(row["case_id"])

    def _insert(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        if self.dialect in ("sqlite", "postgresql"):
            dialect_insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
            stmt = dialect_insert(ledger_events).on_conflict_do_nothing(index_elements=["event_id"])
            # RETURNING yields only the rows really inserted (rowcount of an executemany is unreliable)
            return len(conn.execute(stmt.returning(ledger_events.c.seq), rows).all())
        inserted = 0
        for row in rows:  # other backends: the unique key still decides
            try:
                with conn.begin_nested():
                    conn.execute(insert(ledger_events), row)
                inserted += 1
            except IntegrityError:
                pass
        return inserted

    def _refresh(self, conn: Connection, case_ids: Sequence[str]) -> None:
        for chunk in _chunks(case_ids):
            rows = conn.execute(
                select(ledger_events).where(ledger_events.c.case_id.in_(chunk))
                .order_by(ledger_events.c.case_id, ledger_events.c.at, ledger_events.c.seq)
            ).mappings().all()
            facts = [case_facts(cid, list(group)) for cid, group in groupby(rows, key=lambda r: r["case_id"])]
            conn.execute(delete(facts_table).where(facts_table.c.case_id.in_(chunk)))
            if facts:
                conn.execute(insert(facts_table), facts)

    def bulk_load(self, events: Iterable[LedgerEvent], chunk: int = 50_000) -> int:
        """Fast initial load (imports, benchmarks): insert in large batches, then rebuild every summary once.

        Idempotent like `append_many`, but the summaries are stale until it returns; not for live traffic.
        """
        inserted = 0
        batch: list[LedgerEvent] = []

        def flush() -> int:
            rows = [_row(ev) for ev in batch if not pii_fields(ev)] if batch else []
            if len(rows) != len(batch):
                raise PIIError("a bulk-loaded event looks like it holds contact details; the ledger takes opaque ids")
            with self.engine.begin() as conn:
                return self._insert(conn, rows) if rows else 0

        for ev in events:
            batch.append(ev)
            if len(batch) >= chunk:
                inserted += flush()
                batch = []
        inserted += flush()
        self.rebuild_facts()
        return inserted

    def rebuild_facts(self) -> int:
        """Recompute every summary from the ledger (after a definition changes); returns how many rows (cases
        and backfills) it wrote."""
        with self.engine.begin() as conn:
            return self._rebuild(conn)

    def _rebuild(self, conn: Connection) -> int:
        written = 0
        conn.execute(delete(facts_table))
        # streamed per statement: `conn.execution_options` would set it on the connection itself, and the inserts
        # below would then run on server-side cursors too, which psycopg cannot executemany on
        result = conn.execute(
            select(ledger_events).order_by(ledger_events.c.case_id, ledger_events.c.at, ledger_events.c.seq),
            execution_options={"yield_per": 20_000},
        ).mappings()
        pending: list[dict[str, Any]] = []
        for cid, group in groupby(result, key=lambda r: r["case_id"]):
            pending.append(case_facts(cid, list(group)))
            if len(pending) >= 5_000:
                written += len(pending)
                conn.execute(insert(facts_table), pending)
                pending = []
        if pending:
            written += len(pending)
            conn.execute(insert(facts_table), pending)
        return written

    # ------------------------------------------------------------------ reading

    def events(self, case_id: str) -> list[LedgerEvent]:
        """A case's events in the order they happened (ties: the order they arrived)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ledger_events).where(ledger_events.c.case_id == case_id)
                .order_by(ledger_events.c.at, ledger_events.c.seq)
            ).mappings().all()
        return [
            LedgerEvent.model_validate({k: v for k, v in row.items() if k != "seq" and v is not None})
            for row in rows
        ]

    def events_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Every event with since <= at < until, oldest first (the daily digest's day)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ledger_events).where(ledger_events.c.at >= since, ledger_events.c.at < until)
                .order_by(ledger_events.c.at, ledger_events.c.seq)
            ).mappings().all()
        return [dict(row) for row in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(ledger_events)).scalar() or 0)
