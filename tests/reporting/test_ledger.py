from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from domain.models import LedgerEvent
from reporting.ledger import Ledger, PIIError
from reporting.schema import case_facts, metadata
from tests.reporting.demo import demo_events


def _event(n: int, case: str = "case-x", **extra: object) -> LedgerEvent:
    fields: dict[str, object] = {"event_id": f"{case}:{n}", "case_id": case, "type": "message_sent",
                                 "at": datetime(2025, 3, 4, 10, n % 60, tzinfo=UTC), "source": "calcom",
                                 "appointment_type": "consult", "channel": "sms", **extra}
    return LedgerEvent.model_validate(fields)


def test_append_is_idempotent_and_round_trips(ledger: Ledger) -> None:
    ev = _event(1, data={"count": 3, "ok": True, "note": None})
    assert ledger.append(ev) is True
    assert ledger.append(ev) is False
    assert ledger.append(ev.model_copy(update={"reason": "changed"})) is False  # first write wins
    assert ledger.events("case-x") == [ev]
    assert ledger.count() == 1


def test_append_many_counts_only_new_events(ledger: Ledger) -> None:
    assert ledger.append_many([_event(1), _event(2), _event(2)]) == 2
    assert ledger.append_many([_event(2), _event(3)]) == 1
    assert ledger.append_many([]) == 0
    assert [e.event_id for e in ledger.events("case-x")] == ["case-x:1", "case-x:2", "case-x:3"]


def test_concurrent_appends_of_the_same_events_store_each_once(ledger: Ledger) -> None:
    events = [_event(n, case=f"case-{n % 5}") for n in range(40)]
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        try:
            start.wait(timeout=10)
            for ev in events[offset:] + events[:offset]:
                new = ledger.append(ev)
                with lock:
                    results.append(new)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i * 5,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(results) == 8 * 40
    assert results.count(True) == 40  # every event was new exactly once
    assert ledger.count() == 40
    with ledger.engine.connect() as conn:
        sent = dict(conn.execute(select(case_facts.c.case_id, case_facts.c.messages_sent)).all())
    assert sent == {f"case-{i}": 8 for i in range(5)}


def test_naive_times_are_utc(ledger: Ledger) -> None:
    ev = _event(1).model_copy(update={"at": datetime(2025, 3, 4, 10, 0)})
    ledger.append(ev)
    assert ledger.events("case-x")[0].at == datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("field,value", [
    ("reason", "customer wrote from jane.doe@example.com"),
    ("reason", "call +1 415 555 0100"),
    ("outcome", "555-010-4477"),
    ("owner_id", "staff@example.com"),
])
def test_contact_details_are_rejected_loudly(ledger: Ledger, field: str, value: str) -> None:
    with pytest.raises(PIIError) as info:
        ledger.append(_event(1, **{field: value}))
    assert field in str(info.value) and value not in str(info.value)
    assert ledger.count() == 0


def test_opaque_ids_with_long_digit_runs_are_accepted(ledger: Ledger) -> None:
    assert ledger.append(_event(1, case="case-4155550100123456", template_id="tpl-20250304"))


def test_migrate_is_repeatable_and_matches_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'ledger.db'}"
    led = Ledger(url)
    led.migrate()
    led.migrate()
    with led.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "ledger_alembic_version"})
        assert compare_metadata(context, metadata) == []
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("SELECT version_num FROM ledger_alembic_version").scalar() == "0004"
    led.close()


def test_rebuilt_facts_equal_the_incremental_ones(demo_ledger: Ledger) -> None:
    def facts() -> list[tuple[object, ...]]:
        with demo_ledger.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(case_facts).order_by(case_facts.c.case_id))]

    before = facts()
    assert demo_ledger.rebuild_facts() == 10
    assert facts() == before


def test_bulk_load_matches_append(tmp_path: Path, demo_ledger: Ledger) -> None:
    other = Ledger.open(f"sqlite:///{tmp_path / 'bulk.db'}")
    assert other.bulk_load(demo_events(), chunk=7) == len(demo_events())
    assert other.bulk_load(demo_events()) == 0
    for case in ("case-a", "case-f"):
        assert other.events(case) == demo_ledger.events(case)
    other.close()


def test_in_memory_url_works() -> None:
    led = Ledger.open("sqlite://")
    assert led.append(_event(1))
    assert led.count() == 1
    led.close()
