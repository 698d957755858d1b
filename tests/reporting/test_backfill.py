"""Waitlist backfills in reports: their own metric group, never counted as recovery cases."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import typer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, MetaData, Table, insert, select
from typer.testing import CliRunner

from domain.models import LedgerEvent
from reporting.cli import make_report_command
from reporting.dashboard import dashboard_router
from reporting.facts import FLAG_COLUMNS, WATCH_FLAG_COLUMNS, case_facts
from reporting.ledger import MIGRATIONS, Ledger, _row
from reporting.metrics import METRICS, build_report, format_value, make_filters
from reporting.schema import case_facts as facts_table
from reporting.schema import ledger_events, metadata
from tests.reporting.demo import (
    BF_FILLED,
    BF_REOFFERED,
    BF_UNFILLED,
    BF_UNOPENED,
    EXPECTED_TOTAL,
    EXPECTED_WITH_BACKFILLS,
    MESSAGE_METRICS,
    backfill_events,
    demo_events,
)

BACKFILL_METRICS = ("backfills_opened", "waitlist_offers", "slots_backfilled", "backfill_rate", "backfilled_revenue")
NEW_COLUMNS = ("backfill", "backfill_offers", "backfilled", "backfilled_value")  # migration 0002
LATER_COLUMNS = ("program", *WATCH_FLAG_COLUMNS)  # migrations 0003, 0004: not in revision 0001's tables either
CASE_METRICS = [m.name for m in METRICS if m.name not in MESSAGE_METRICS and m.name not in BACKFILL_METRICS]


def test_every_metric_matches_the_hand_count_with_backfills(mixed_ledger: Ledger) -> None:
    report = build_report(mixed_ledger)
    assert set(EXPECTED_WITH_BACKFILLS) == {m.name for m in METRICS}
    assert report.total.values == EXPECTED_WITH_BACKFILLS


def test_backfills_leave_every_case_metric_unchanged(demo_ledger: Ledger) -> None:
    cases_only = build_report(demo_ledger, by="week").total.values
    demo_ledger.append_many(backfill_events())
    mixed = build_report(demo_ledger, by="week").total.values
    assert {m: mixed[m] for m in CASE_METRICS} == {m: cases_only[m] for m in CASE_METRICS}
    assert {m: mixed[m] for m in CASE_METRICS} == {m: EXPECTED_TOTAL[m] for m in CASE_METRICS}
    assert mixed["cases"] == 10 and mixed["open_cases"] == 1 and mixed["contacted"] == 4  # b2 is open, a1 sent


def test_the_group_is_in_the_definitions() -> None:
    group = [m for m in METRICS if m.section == "Waitlist backfill"]
    assert [m.name for m in group] == list(BACKFILL_METRICS)
    assert "backfill" in next(m for m in METRICS if m.name == "messages_sent").formula  # the choice is documented
    assert "not cases" in next(m for m in METRICS if m.name == "contacted").formula


def test_a_backfill_row_holds_no_case_numbers(mixed_ledger: Ledger) -> None:
    with mixed_ledger.engine.connect() as conn:
        rows = {r["case_id"]: dict(r) for r in conn.execute(select(facts_table)).mappings()}
    assert len(rows) == 14
    filled = rows[BF_FILLED]
    case_columns = ("closed", "ignored", "replies", "opted_out", "rebooked", "recoverable", "lost_value",
                    "recovered_value", *FLAG_COLUMNS, *WATCH_FLAG_COLUMNS)
    for bf in (BF_FILLED, BF_UNFILLED, BF_REOFFERED, BF_UNOPENED):
        assert rows[bf]["backfill"] == 1
        assert {c: rows[bf][c] for c in case_columns} == dict.fromkeys(case_columns, 0), bf
    # the freed slot's dimensions, not those of the delivery news, the reply or the booking
    assert (filled["source"], filled["appointment_type"], filled["owner_id"], filled["location_id"]) == (
        "calcom", "consult", "o1", "l1")
    assert (filled["channel"], filled["template_id"], filled["value"], filled["week"]) == (
        "sms", "waitlist_offer", 100.0, "2025-03-03")
    assert (filled["messages_sent"], filled["backfill_offers"], filled["backfilled"], filled["backfilled_value"]) == (
        4, 2, 1, 100.0)
    assert (rows[BF_REOFFERED]["backfill_offers"], rows[BF_REOFFERED]["backfilled_value"]) == (2, 80.0)
    assert (rows[BF_UNFILLED]["backfilled"], rows[BF_UNFILLED]["backfilled_value"]) == (0, 0.0)
    assert (rows[BF_UNOPENED]["source"], rows[BF_UNOPENED]["value"], rows[BF_UNOPENED]["week"]) == (
        "calendly", 0.0, "2025-03-17")
    assert all(rows[c]["backfill"] == 0 and rows[c]["backfill_offers"] == 0 for c in rows if c.startswith("case-"))


def test_case_facts_dispatches_on_the_id() -> None:
    events = [_row(ev) | {"seq": n} for n, ev in enumerate(backfill_events()) if ev.case_id == BF_FILLED]
    as_backfill = case_facts(BF_FILLED, events)
    assert as_backfill["backfill"] == 1 and as_backfill["contacted"] == 0 and as_backfill["open_case"] == 0
    # the same events under a case id would have been a contacted, open case: what reports used to count
    as_case = case_facts("case-q", events)
    assert as_case["backfill"] == 0 and as_case["contacted"] == 1 and as_case["open_case"] == 1
    with pytest.raises(ValueError, match="at least one event"):
        case_facts(BF_FILLED, [])


def test_backfills_by_week_and_a_period_with_backfills_only(mixed_ledger: Ledger) -> None:
    weeks = {r.group: r.values for r in build_report(mixed_ledger, by="week").groups}
    assert list(weeks) == ["2025-03-03", "2025-03-10", "2025-03-17"]
    assert [weeks[w]["cases"] for w in weeks] == [5, 5, 0]
    assert [weeks[w]["backfills_opened"] for w in weeks] == [1, 2, 1]  # a1 | b2 c3 | d4
    assert [weeks[w]["backfilled_revenue"] for w in weeks] == [100.0, 80.0, 0.0]
    only = build_report(mixed_ledger, make_filters(since="2025-03-17")).total.values
    assert (only["cases"], only["backfills_opened"], only["waitlist_offers"], only["messages_sent"]) == (0, 1, 1, 1)
    assert (only["backfill_rate"], only["recovery_rate"], only["messages_delivered"]) == (0.0, None, 1)


def test_backfills_group_under_the_freed_slot(mixed_ledger: Ledger) -> None:
    sources = {r.group: r.values for r in build_report(mixed_ledger, by="source").groups}
    assert list(sources) == ["calcom", "calendly"]  # never "backfill", "provider" or "reply"
    assert (sources["calcom"]["cases"], sources["calcom"]["backfills_opened"]) == (7, 2)  # a1 c3
    assert (sources["calcom"]["slots_backfilled"], sources["calcom"]["backfilled_revenue"]) == (2, 180.0)
    assert (sources["calendly"]["backfills_opened"], sources["calendly"]["slots_backfilled"]) == (2, 0)  # b2 d4
    templates = {r.group: r.values for r in build_report(mixed_ledger, by="template").groups}
    offers = templates["waitlist_offer"]  # every backfill's first message is an offer
    assert (offers["cases"], offers["backfills_opened"], offers["messages_sent"], offers["contacted"]) == (0, 4, 11, 0)
    assert sum(int(v["cases"] or 0) for v in templates.values()) == 10
    assert sum(int(v["backfills_opened"] or 0) for v in templates.values()) == 4


@pytest.mark.parametrize("filters,expected", [
    ({"source": "calendly"}, {"cases": 3, "backfills_opened": 2, "waitlist_offers": 4, "backfill_rate": 0.0}),
    ({"owner": "o1", "location": "l1"}, {"cases": 4, "backfills_opened": 2, "slots_backfilled": 2,
                                         "backfilled_revenue": 180.0}),
    ({"appointment_type": "cleaning", "until": "2025-03-16"}, {"cases": 2, "backfills_opened": 1,
                                                               "messages_failed": 1}),
    ({"segment": "first_time"}, {"cases": 2, "backfills_opened": 0, "backfill_rate": None}),
])
def test_filters_apply_to_backfills(mixed_ledger: Ledger, filters: dict[str, Any], expected: dict[str, object]) -> None:
    values = build_report(mixed_ledger, make_filters(**filters)).total.values
    assert {k: values[k] for k in expected} == expected


def test_replies_to_offers_are_not_case_replies(mixed_ledger: Ledger) -> None:
    report = build_report(mixed_ledger)
    assert [(c.key, c.count) for c in report.reply_reasons] == [("opt_out", 1), ("pick_slot", 1), ("question", 1)]
    assert (report.total.values["replies"], report.total.values["reply_rate"]) == (3, 0.75)
    assert [(a.arm, a.cases) for a in report.experiments] == [("holdout", 2), ("direct", 1), ("friendly", 2)]


def test_rebuilt_facts_equal_the_incremental_ones(mixed_ledger: Ledger) -> None:
    before = build_report(mixed_ledger, by="week")
    assert mixed_ledger.rebuild_facts() == 14
    assert build_report(mixed_ledger, by="week") == before


def test_upgrading_an_old_ledger_recounts_its_backfills(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Ledger(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    events = [*demo_events(), *backfill_events()]
    with old.engine.begin() as conn:
        conn.execute(insert(ledger_events), [_old_row(ev) for ev in events])
        # what revision 0001 stored: each backfill summarised as an open, contacted case
        by_id: dict[str, list[dict[str, object]]] = {}
        for n, ev in enumerate(events):
            by_id.setdefault(ev.case_id, []).append(_old_row(ev) | {"seq": n})
        stale = []
        for cid, rows in by_id.items():
            facts = case_facts(cid.replace("backfill-", "case-bf-"), rows) | {"case_id": cid}
            stale.append({k: v for k, v in facts.items() if k not in (*NEW_COLUMNS, *LATER_COLUMNS)})
        conn.execute(insert(_old_facts_table()), stale)
    old.close()
    # the schema change alone would leave the stale summaries: four extra open, contacted "cases"
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "old.db").read_bytes())
    schema_only = Ledger(f"sqlite:///{copy}")
    with schema_only.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    stale_values = build_report(schema_only).total.values
    assert (stale_values["cases"], stale_values["open_cases"], stale_values["backfills_opened"]) == (14, 5, 0)
    schema_only.close()

    upgraded = Ledger.open(url)
    with upgraded.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "ledger_alembic_version"})
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == "0004"
    assert build_report(upgraded).total.values == EXPECTED_WITH_BACKFILLS
    upgraded.close()


def _old_facts_table() -> Table:
    """case_facts as revision 0001 made it."""
    return Table("case_facts", MetaData(), *[Column(c.name, c.type) for c in facts_table.columns
                                             if c.name not in (*NEW_COLUMNS, *LATER_COLUMNS)])


def _old_row(ev: LedgerEvent) -> dict[str, Any]:
    """A ledger_events row as revision 0001 stored it."""
    return {k: v for k, v in _row(ev).items() if k not in LATER_COLUMNS}


@pytest.fixture
def client(mixed_ledger: Ledger) -> TestClient:
    app = FastAPI()
    app.include_router(dashboard_router(lambda: mixed_ledger))
    return TestClient(app)


@pytest.mark.parametrize("query,by", [("", None), ("?by=template", "template_id"), ("?by=week", "week")])
def test_page_json_csv_and_cli_agree_with_backfills(client: TestClient, mixed_ledger: Ledger, query: str,
                                                    by: str | None) -> None:
    data = client.get(f"/dashboard/data.json{query}").json()
    export = client.get(f"/dashboard/export.csv{query}").text
    rows = list(csv.DictReader(io.StringIO(export)))
    json_rows = [*data["groups"], data["total"]] if by else [data["total"]]
    for row, json_row in zip(rows, json_rows, strict=True):
        assert row["group"] == json_row["group"]
        assert {m.name: row[m.name] for m in METRICS} == {
            m.name: format_value(json_row["values"][m.name]) for m in METRICS}
    assert {k: data["total"]["values"][k] for k in BACKFILL_METRICS} == {
        k: EXPECTED_WITH_BACKFILLS[k] for k in BACKFILL_METRICS}

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """noshow"""

    app.command("report")(make_report_command(lambda: mixed_ledger))
    result = CliRunner().invoke(app, ["report", "--csv", *(["--by", by] if by else [])])
    assert result.exit_code == 0, result.output
    assert result.output == export


def test_page_shows_the_backfill_group(client: TestClient) -> None:
    html = client.get("/dashboard").text
    assert "<td>Waitlist backfill</td><td>Freed slots offered to the waitlist<div" in html
    assert 'data-metric="slots_backfilled" data-group="total" data-value="2">2<' in html
    assert 'data-metric="backfilled_revenue" data-group="total" data-value="180.0">180.00<' in html
    assert 'data-metric="cases" data-group="total" data-value="10">10<' in html
