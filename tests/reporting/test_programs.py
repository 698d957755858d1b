"""The program dimension: every ledger row carries its case's program, reports filter and group by it and keep
to a viewer's programs, and migration 0003 upgrades a ledger that already holds rows."""

from __future__ import annotations

from pathlib import Path

import typer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from typer.testing import CliRunner

from domain.models import LedgerEvent
from reporting.cli import make_report_command
from reporting.ledger import MIGRATIONS, Ledger, _row
from reporting.metrics import build_report, filter_options, make_filters, to_csv
from reporting.schema import case_facts, ledger_events, metadata
from tests.reporting.demo import WEEK2, demo_events
from tests.reporting.programs import CASES, program_events

DEFAULT_CASE, DENTAL_CASE, LEGACY_CASE = (CASES[p][0] for p in ("default", "dental", None))


def _programs_by_case(ledger: Ledger) -> dict[str, set[str | None]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(ledger_events.c.case_id, ledger_events.c.program)).all()
    out: dict[str, set[str | None]] = {}
    for case_id, program in rows:
        out.setdefault(case_id, set()).add(program)
    return out


def test_a_row_written_without_a_program_gets_its_cases(ledger: Ledger) -> None:
    ledger.append_many(program_events())
    # the delivery status (no program of its own) comes in a batch of its own, as the provider's callback does
    ledger.append(LedgerEvent(event_id=f"{DENTAL_CASE}:late", case_id=DENTAL_CASE, type="message_delivered",
                              at=WEEK2, source="provider", appointment_type="-"))
    assert _programs_by_case(ledger) == {DEFAULT_CASE: {"default"}, DENTAL_CASE: {"dental"}, LEGACY_CASE: {None}}
    assert ledger.events(DENTAL_CASE)[-1].program == "dental"


def test_reports_keep_to_the_viewers_programs(ledger: Ledger) -> None:
    ledger.append_many(program_events())
    everyone = build_report(ledger, by="program")
    assert [g.group for g in everyone.groups] == ["(none)", "default", "dental"]
    assert everyone.total.values["cases"] == 3
    default = build_report(ledger, by="owner_id", programs=frozenset({"default"}))
    assert [g.group for g in default.groups] == ["o-default"]
    assert (default.total.values["lost_revenue_risk"], default.total.values["recovered_revenue"]) == (100.0, 0.0)
    dental = build_report(ledger, by="program", programs=frozenset({"dental"}))
    assert [g.group for g in dental.groups] == ["dental"]
    assert dental.total.values["recovered_revenue"] == 250.0
    assert dental.total.values["messages_delivered"] == 1
    assert build_report(ledger, programs=frozenset()).total.values["cases"] == 0
    filtered = build_report(ledger, make_filters(program="dental"))
    assert filtered.total.values == dental.total.values
    assert build_report(ledger, make_filters(program="(none)")).total.values["lost_revenue_risk"] == 40.0


def test_filter_options_keep_to_the_viewers_programs(ledger: Ledger) -> None:
    ledger.append_many(program_events())
    assert filter_options(ledger)["program"] == ["default", "dental"]
    options = filter_options(ledger, programs=frozenset({"default"}))
    assert options["program"] == ["default"]
    assert options["owner"] == ["o-default"] and options["appointment_type"] == ["consultation"]
    assert options["template"] == ["t-o-default"] and options["location"] == ["l-default"]


def test_the_cli_filters_by_program(ledger: Ledger) -> None:
    ledger.append_many(program_events())
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """noshow"""

    app.command("report")(make_report_command(lambda: ledger))
    result = CliRunner().invoke(app, ["report", "--program", "dental", "--by", "owner", "--csv"])
    assert result.exit_code == 0, result.output
    expected = build_report(ledger, make_filters(program="dental"), "owner_id", weekly=False, extras=False)
    assert result.output == to_csv(expected)
    assert "o-dental" in result.output and "o-default" not in result.output


def _ledger_at_0002_with_rows(url: str) -> None:
    """A ledger as revision 0002 left it, holding the demo's events (no program column anywhere)."""
    old = Ledger(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        assert "program" not in {c["name"] for c in conn.dialect.get_columns(conn, "ledger_events")}
        conn.execute(insert(ledger_events), [{k: v for k, v in _row(ev).items() if k != "program"}
                                             for ev in demo_events()])
    old.close()


def _upgrades_with_rows(url: str) -> None:
    _ledger_at_0002_with_rows(url)
    upgraded = Ledger.open(url)
    try:
        with upgraded.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": "ledger_alembic_version"})
            assert context.get_current_revision() == "0004"
            assert compare_metadata(context, metadata) == []
            assert set(conn.execute(select(ledger_events.c.program)).scalars()) == {None}
            assert set(conn.execute(select(case_facts.c.program)).scalars()) == {None}
        # the old rows: every program's viewers see them (the summaries were rebuilt), a scoped owner does not
        assert build_report(upgraded).total.values["cases"] == 10
        assert build_report(upgraded, programs=frozenset({"default"})).total.values["cases"] == 0
        upgraded.append_many(program_events())
        assert build_report(upgraded, programs=frozenset({"default"})).total.values["cases"] == 1
        assert build_report(upgraded).total.values["cases"] == 13
    finally:
        upgraded.close()


def test_migration_0003_upgrades_a_ledger_with_rows_on_sqlite(tmp_path: Path) -> None:
    _upgrades_with_rows(f"sqlite:///{tmp_path / 'old.db'}")


def test_migration_0003_upgrades_a_ledger_with_rows_on_postgres(pg_url: str) -> None:
    _upgrades_with_rows(pg_url)
