"""One SQLAlchemy engine per process and database URL, and the store's Alembic migrations.

SQLite (the embedded default: one file, WAL, zero set-up) or Postgres (`NOSHOW_DATABASE_URL`, e.g.
`postgresql+psycopg://user:pass@host/db`). Connections come from the engine's pool and go back to it, so an
operation costs a checkout, not a connect. A forked child builds its own engine: pooled connections are never
shared across processes.

Migrations run when a process opens the store (`migrate`): idempotent, and serialised between processes that
start at once (a file lock beside a SQLite file, an advisory lock on Postgres), so two replicas starting
together neither fail nor create a table twice.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "local_alembic_version"  # the ledger keeps its own (ledger_alembic_version) in the same database
MIGRATE_LOCK = "noshow-local-migrate"
POOL_SIZE = 5  # connections kept open per process
MAX_OVERFLOW = 20  # extra connections under a burst (activity threads, API requests), closed when returned
POOL_TIMEOUT = 30  # seconds to wait for a free connection before failing

_lock = threading.Lock()
_engines: dict[str, tuple[int, Engine]] = {}
_migrated: set[tuple[int, str]] = set()


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a SQLite file path. A bare `postgresql://` URL uses psycopg 3."""
    text = str(target)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser()}"
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for Postgres and in-memory databases."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _sqlite_engine(url: str) -> Engine:
    path = sqlite_file(url)
    if path is None:
        # one shared connection, or every checkout would see its own empty database
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_timeout=POOL_TIMEOUT,
                               connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours (below), so BEGIN IMMEDIATE can be asked for
        cursor = dbapi_connection.cursor()
        if path is not None:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable except the last commits on power loss
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # the write lock first, so check-then-write cannot interleave with another writer (and waits, not fails)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine


def shared_engine(url: str) -> Engine:
    """This process's engine for `url` (created on first use)."""
    pid = os.getpid()
    with _lock:
        known = _engines.get(url)
        if known is not None and known[0] == pid:
            return known[1]
        if known is not None:
            known[1].dispose(close=False)  # inherited from the parent: leave its connections to it
        if make_url(url).get_backend_name() == "sqlite":
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_timeout=POOL_TIMEOUT,
                                   pool_pre_ping=True)
        _engines[url] = (pid, engine)
        return engine


def dispose(url: str) -> None:
    """Close this process's pooled connections to `url` (tests, shutdown)."""
    with _lock:
        known = _engines.pop(url, None)
        _migrated.discard((os.getpid(), url))
    if known is not None and known[0] == os.getpid():
        known[1].dispose()


@contextmanager
def _file_lock(url: str) -> Iterator[None]:
    path = sqlite_file(url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(url: str, force: bool = False) -> None:
    """Bring the store's schema to the newest revision (once per process and URL unless `force`)."""
    key = (os.getpid(), url)
    if key in _migrated and not force:
        return
    engine = shared_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _file_lock(url), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock(hashtext('{MIGRATE_LOCK}'))")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _migrated.add(key)
