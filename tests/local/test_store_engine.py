"""The operational store on SQLite and on Postgres: migrations, the stores' call style, pooled connections and
the per-key lock."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, inspect

from connectors.google.channels import SCHEMA as GOOGLE_SCHEMA
from connectors.local import engine as engines
from connectors.local.db import SCHEMA, LocalDb, lock_key
from connectors.local.meeting_links import SCHEMA as MEETING_SCHEMA
from connectors.local.reconcile_state import SCHEMA as RECONCILE_SCHEMA
from connectors.local.sql import split_script, to_postgres
from connectors.local.waitlist import LocalWaitlist


def _open(url: str) -> None:
    LocalDb(url)


def test_processes_opening_one_new_database_at_once_all_succeed(db_url: str) -> None:
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_open, args=(db_url,)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    db = LocalDb(db_url)
    engines.migrate(db.url, force=True)  # and again: nothing to do, nothing fails
    with db.connect() as conn:
        assert conn.execute("SELECT version_num FROM local_alembic_version").fetchone() == (latest_revision(),)


def latest_revision() -> str:
    """The newest migration in the tree (revision ids are the files' number prefixes)."""
    versions = Path(engines.__file__).parent / "migrations" / "versions"
    return max(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))


def _columns(url: str) -> dict[str, set[str]]:
    found = inspect(engines.shared_engine(url))
    return {t: {c["name"] for c in found.get_columns(t)} for t in found.get_table_names()
            if not t.endswith("alembic_version")}


def test_a_sqlite_file_from_before_migrations_upgrades_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:  # what the stores' SCHEMA strings made before there were migrations
        for script in (SCHEMA, MEETING_SCHEMA, RECONCILE_SCHEMA, GOOGLE_SCHEMA):
            raw.executescript(script)
        raw.execute("INSERT INTO waitlist VALUES ('c-1', 'consultation', 'cal-1', '2026-01-01T00:00:00+00:00')")
    upgraded = LocalDb(old)
    fresh = LocalDb(tmp_path / "fresh.db")
    assert _columns(upgraded.url) == _columns(fresh.url)
    assert [e.contact_id for e in LocalWaitlist(upgraded).waiting("consultation", "cal-1")] == ["c-1"]
    assert {"pad_before_minutes", "pad_after_minutes"} <= _columns(upgraded.url)["holds"]  # added by 0002
    assert {"crm_contact_id", "program"} <= _columns(upgraded.url)["outbox"]  # added by 0006


def test_postgres_gets_the_same_tables_and_columns_as_sqlite(tmp_path: Path, pg_url: str) -> None:
    assert _columns(LocalDb(pg_url).url) == _columns(LocalDb(tmp_path / "local.db").url)


def test_the_sqlite_call_style_works_on_both(db_url: str) -> None:
    db = LocalDb(db_url)
    with db.connect(immediate=True) as conn:
        row = ("o-1", "Dr ? 100%", "cal-1")
        assert conn.execute("INSERT OR IGNORE INTO owners (owner_id, display_name, calendar_id) VALUES (?, ?, ?)",
                            row).rowcount == 1
        assert conn.execute("INSERT OR IGNORE INTO owners (owner_id, display_name, calendar_id) VALUES (?, ?, ?)",
                            row).rowcount == 0
        conn.execute("INSERT OR REPLACE INTO owners (owner_id, display_name, calendar_id) VALUES (?, ?, ?)",
                     ("o-1", "Dr Lee", "cal-2"))
        found = conn.execute("SELECT * FROM owners WHERE display_name LIKE 'Dr %' AND owner_id = ?",
                             ("o-1",)).fetchone()
        assert found is not None
        assert dict(found) == {"owner_id": "o-1", "display_name": "Dr Lee", "calendar_id": "cal-2"}
        assert (found[0], found["calendar_id"]) == ("o-1", "cal-2")
        conn.execute("INSERT INTO appointments (appointment_id, calendar_id, appointment_type, start_at, end_at, "
                     "value) VALUES (?, ?, ?, ?, ?, ?)", ("a-1", "cal-1", "x", "s", "e", 2))
        total = conn.execute("SELECT SUM(value), IFNULL(NULL, 'none'), '?' FROM appointments").fetchone()
        assert total == (2, "none", "?")
        assert conn.execute("SELECT owner_id FROM owners WHERE owner_id = ?", ("nobody",)).fetchone() is None


def test_a_failed_transaction_writes_nothing(db_url: str) -> None:
    db = LocalDb(db_url)
    with pytest.raises(RuntimeError), db.connect(immediate=True) as conn:
        conn.execute("INSERT INTO owners (owner_id, display_name, calendar_id) VALUES (?, ?, ?)", ("o", "O", "c"))
        raise RuntimeError("abort")
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM owners").fetchone() == (0,)


def test_additive_ddl_runs_on_both_and_only_once_per_process(db_url: str) -> None:
    db = LocalDb(db_url)
    ddl = ("CREATE TABLE IF NOT EXISTS lane_notes (note_id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL); "
           "CREATE INDEX IF NOT EXISTS lane_notes_body ON lane_notes (body);")
    db.script(ddl)
    db.script(ddl)
    with db.connect() as conn:
        conn.execute("INSERT INTO lane_notes (body) VALUES (?)", ("a; b",))
        conn.execute("INSERT INTO lane_notes (body) VALUES (?)", ("c",))
        assert [r[0] for r in conn.execute("SELECT note_id FROM lane_notes ORDER BY note_id").fetchall()] == [1, 2]


def test_operations_reuse_pooled_connections(db_url: str) -> None:
    db = LocalDb(db_url)
    opened: list[object] = []
    event.listen(db.engine, "connect", lambda *_: opened.append(1))
    waitlist = LocalWaitlist(db)

    def work(n: int) -> None:
        for i in range(25):
            waitlist.add(f"c-{n}-{i}", "consultation", "cal-1")
            waitlist.waiting("consultation", "cal-1", limit=5)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    assert len(waitlist.waiting("consultation", "cal-1")) == 100
    assert len(opened) <= engines.POOL_SIZE + engines.MAX_OVERFLOW  # 200 operations, a handful of connections
    assert len(opened) <= 8


def _bump(url: str, key: str, rounds: int) -> None:
    db = LocalDb(url)
    for _ in range(rounds):
        with db.connect(immediate=True) as conn:
            lock_key(conn, key)
            row = conn.execute("SELECT value FROM crm_fields WHERE contact_id = ? AND appointment_id = 'n' "
                               "AND field = 'n'", (key,)).fetchone()
            current = int(row[0]) if row else 0
            time.sleep(0.002)  # widen the read-then-write window
            conn.execute("INSERT INTO crm_fields (contact_id, appointment_id, field, value) VALUES (?, 'n', 'n', ?) "
                         "ON CONFLICT (contact_id, appointment_id, field) DO UPDATE SET value = excluded.value",
                         (key, str(current + 1)))


def _counter(url: str, key: str) -> int:
    with LocalDb(url).connect() as conn:
        row = conn.execute("SELECT value FROM crm_fields WHERE contact_id = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def test_read_then_write_under_lock_key_loses_no_update_across_processes_and_threads(db_url: str) -> None:
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_bump, args=(db_url, "address-1", 10)) for _ in range(3)]
    for proc in procs:
        proc.start()
    threads = [threading.Thread(target=_bump, args=(db_url, "address-1", 10)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        proc.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert _counter(db_url, "address-1") == 60


def test_without_the_lock_postgres_would_lose_updates(pg_url: str) -> None:
    """The counter test above can fail: the same read-then-write without `lock_key` loses updates."""
    db = LocalDb(pg_url)

    def unlocked() -> None:
        for _ in range(5):
            with db.connect(immediate=True) as conn:
                row = conn.execute("SELECT value FROM crm_fields WHERE contact_id = 'k'").fetchone()
                current = int(row[0]) if row else 0
                time.sleep(0.01)
                conn.execute("INSERT INTO crm_fields (contact_id, appointment_id, field, value) VALUES "
                             "('k', 'n', 'n', ?) ON CONFLICT (contact_id, appointment_id, field) DO UPDATE SET "
                             "value = excluded.value", (str(current + 1),))

    threads = [threading.Thread(target=unlocked) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _counter(pg_url, "k") < 30


def test_lock_key_locks_one_key_not_the_database(pg_url: str) -> None:
    db = LocalDb(pg_url)
    held = threading.Event()

    def hold_a() -> None:
        with db.connect(immediate=True) as conn:
            lock_key(conn, "address-a")
            held.set()
            time.sleep(1.0)

    thread = threading.Thread(target=hold_a)
    thread.start()
    held.wait(10)
    began = time.monotonic()
    with db.connect(immediate=True) as conn:
        lock_key(conn, "address-b")  # another key: no wait
    other_key = time.monotonic() - began
    began = time.monotonic()
    with db.connect(immediate=True) as conn:
        lock_key(conn, "address-a")  # the same key: waits for the first transaction to end
    same_key = time.monotonic() - began
    thread.join()
    assert other_key < 0.3 and same_key > 0.3, (other_key, same_key)


def test_translation_leaves_literals_alone() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE '%z' -- why?\n"
    assert to_postgres(sql, True) == "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE '%%z' -- why?\n"
    assert to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING a", True) == \
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING a"
    assert to_postgres("INSERT OR REPLACE INTO t (a, b) VALUES (?, ?);", True, {"t": ("a",)}) == \
        "INSERT INTO t (a, b) VALUES (%s, %s) ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b"
    assert split_script("CREATE TABLE a (x TEXT DEFAULT ';'); -- c;\nCREATE INDEX i ON a (x);") == \
        ["CREATE TABLE a (x TEXT DEFAULT ';')", "CREATE INDEX i ON a (x)"]
