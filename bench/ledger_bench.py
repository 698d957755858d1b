"""Fill a ledger with 1,000,000 case events and time the report and the dashboard's queries.

    .venv/bin/python bench/ledger_bench.py [--events 1000000] [--url sqlite:///path.db] [--keep]

The target: every timed query under 1 s on SQLite.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI
from fastapi.testclient import TestClient

from domain.models import LedgerEvent
from reporting.dashboard import dashboard_router
from reporting.ledger import Ledger
from reporting.metrics import build_report, filter_options, make_filters, to_csv

SOURCES = ["calcom", "calendly", "acuity", "square", "google"]
TYPES = ["consult", "cleaning", "follow_up", "install", "repair", "demo"]
REASONS = ["pick_slot", "reschedule", "cancel", "question", "opt_out", "other"]
START = datetime(2025, 1, 6, tzinfo=UTC)


def case_events(rng: random.Random, n: int) -> list[LedgerEvent]:
    """One plausible case: opened, a verdict, and for no-shows a recovery sequence and a close."""
    at = START + timedelta(minutes=rng.randrange(0, 26 * 7 * 24 * 60))
    base: dict[str, Any] = {
        "case_id": f"case-{n:09d}", "source": rng.choice(SOURCES), "appointment_type": rng.choice(TYPES),
        "kind": "no_show", "owner_id": f"owner-{rng.randrange(40)}", "location_id": f"loc-{rng.randrange(8)}",
        "segment": rng.choice(["first_time", "repeat", "high_value"]),
        "arm": rng.choice(["exp1/holdout", "exp1/friendly", "exp1/direct"]),
    }
    value = float(rng.choice([60, 90, 120, 150, 300]))
    out: list[LedgerEvent] = []

    def add(type_: str, **extra: Any) -> None:
        nonlocal at
        at += timedelta(minutes=rng.randrange(1, 600))
        out.append(LedgerEvent.model_construct(
            event_id=f"{base['case_id']}:{len(out) + 1}:{type_}", type=type_, at=at,
            **{**base, "channel": None, "template_id": None, "value": 0.0, "outcome": None, "reason": None,
               "data": {}, **extra}))

    add("case_opened", value=value)
    verdict = rng.choices(["attended", "no_show", "late_cancel", "review", "rescheduled"], [50, 30, 10, 5, 5])[0]
    add("verdict", outcome=verdict)
    if verdict in ("attended", "rescheduled"):
        add("case_closed", outcome="attended" if verdict == "attended" else "cancelled", value=value)
        return out
    if verdict == "review":
        add("review_requested")
        add("review_decided", data={"decision": "approve", "within_sla": rng.random() < 0.8})
    holdout = base["arm"].endswith("holdout")
    channel = rng.choice(["sms", "email", "whatsapp"])
    for step in range(0 if holdout else rng.randint(1, 3)):
        add("message_sent", channel=channel, template_id=f"tpl-{step}")
        add("message_delivered" if rng.random() < 0.93 else "message_failed", channel=channel,
            template_id=f"tpl-{step}")
    if not holdout and rng.random() < 0.45:
        reason = rng.choice(REASONS)
        add("reply_received", reason=reason)
        if reason == "opt_out":
            add("opt_out")
            add("case_closed", outcome="opted_out", value=value)
            return out
        if reason in ("pick_slot", "reschedule"):
            add("slot_offered", data={"count": 3})
            add("rebooked", data={"minutes_to_rebook": rng.randrange(5, 4000)})
            add("crm_updated")
            add("kept" if rng.random() < 0.8 else "not_kept", outcome="attended")
            add("case_closed", outcome="confirmed", value=value)
            return out
    if rng.random() < 0.02:
        add("exception", reason="provider_timeout")
    add("crm_updated")
    add("case_closed", outcome="unrecovered", value=value)
    return out


def generate(total: int, seed: int = 7) -> Iterator[LedgerEvent]:
    rng = random.Random(seed)
    produced, n = 0, 0
    while produced < total:
        for ev in case_events(rng, n)[: total - produced]:
            produced += 1
            yield ev
        n += 1


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()  # warm the page cache and SQLite's statement cache once
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="default: a SQLite file in a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--no-fill", action="store_true", help="time an existing ledger at --url as it is")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="ledger-bench-")
    url = args.url or f"sqlite:///{tmp}/ledger.db"
    ledger = Ledger.open(url)
    started = time.perf_counter()
    loaded = 0 if args.no_fill else ledger.bulk_load(generate(args.events))
    fill = max(time.perf_counter() - started, 1e-9)
    with ledger.engine.connect() as conn:
        cases = conn.exec_driver_sql("SELECT COUNT(*) FROM case_facts").scalar()
    print(f"loaded {loaded:,} events ({cases:,} cases) into {url} in {fill:.1f} s "
          f"({loaded / fill:,.0f} events/s, summaries included)")

    app = FastAPI()
    app.include_router(dashboard_router(lambda: ledger))
    client = TestClient(app)
    march = make_filters(since="2025-03-01", until="2025-03-31")
    checks: list[tuple[str, Callable[[], object]]] = [
        ("report totals (CLI, no --by)", lambda: build_report(ledger, None, None, weekly=False)),
        ("report --by week", lambda: build_report(ledger, None, "week", weekly=False)),
        ("report --by source --csv", lambda: to_csv(build_report(ledger, None, "source", weekly=False,
                                                                  extras=False))),
        ("report --by owner_id", lambda: build_report(ledger, None, "owner_id", weekly=False)),
        ("report --by template_id", lambda: build_report(ledger, None, "template_id", weekly=False)),
        ("report March --by arm", lambda: build_report(ledger, march, "arm", weekly=False)),
        ("report filtered source+channel", lambda: build_report(
            ledger, make_filters(source="calcom", channel="sms"), "week")),
        ("filter option lists", lambda: filter_options(ledger)),
        ("GET /dashboard", lambda: client.get("/dashboard").raise_for_status()),
        ("GET /dashboard?by=channel&since=2025-03-01",
         lambda: client.get("/dashboard?by=channel&since=2025-03-01").raise_for_status()),
        ("GET /dashboard/data.json?by=source", lambda: client.get("/dashboard/data.json?by=source").raise_for_status()),
        ("GET /dashboard/export.csv?by=week", lambda: client.get("/dashboard/export.csv?by=week").raise_for_status()),
    ]
    print(f"\n{'query':48} {'best of 3':>10}")
    print("-" * 60)
    worst = 0.0
    for name, fn in checks:
        seconds = timed(fn)
        worst = max(worst, seconds)
        print(f"{name:48} {seconds * 1000:8.1f} ms")
    print("-" * 60)
    print(f"slowest {worst * 1000:.1f} ms: {'under' if worst < 1 else 'OVER'} the 1 s target")
    ledger.close()
    if args.keep:
        print(f"kept {url}")
    elif args.url is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}/ledger.db{suffix}").unlink(missing_ok=True)
        Path(tmp).rmdir()
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
