from __future__ import annotations

import csv
import io
import re

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reporting.cli import make_report_command
from reporting.dashboard import dashboard_router
from reporting.ledger import Ledger
from reporting.metrics import METRICS, format_value
from tests.reporting.demo import EXPECTED_TOTAL


@pytest.fixture
def client(demo_ledger: Ledger) -> TestClient:
    app = FastAPI()
    app.include_router(dashboard_router(lambda: demo_ledger))
    return TestClient(app)


@pytest.fixture
def cli(demo_ledger: Ledger) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """noshow"""

    app.command("report")(make_report_command(lambda: demo_ledger))
    return app


def _cli_table(output: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    names = {m.name for m in METRICS}
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] in names:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("query,by", [("", None), ("?by=channel", "channel"), ("?by=week&source=calcom", "week"),
                                      ("?since=2025-03-10&by=owner", "owner_id")])
def test_json_csv_and_cli_agree(client: TestClient, cli: typer.Typer, query: str, by: str | None) -> None:
    data = client.get(f"/dashboard/data.json{query}").json()
    assert data["by"] == by
    export = client.get(f"/dashboard/export.csv{query}")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    json_rows = [*data["groups"], data["total"]] if by else [data["total"]]
    assert [r["group"] for r in rows] == [g["group"] for g in json_rows]
    for row, json_row in zip(rows, json_rows, strict=True):
        assert {m.name: row[m.name] for m in METRICS} == {
            m.name: format_value(json_row["values"][m.name]) for m in METRICS}

    args = ["report"]
    for key, value in re.findall(r"(\w+)=([^&]+)", query):
        if key in ("since", "by"):
            args += [f"--{key}", value]
    if "source" in query:
        return  # the CLI has no source filter (the page does): JSON = CSV is checked above
    as_csv = CliRunner().invoke(cli, [*args, "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output == export.text
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    parsed = _cli_table(table.output)
    for m in METRICS:
        expected = [format_value(g["values"][m.name]) for g in json_rows]
        assert [c for c in parsed[m.name]] == [e for e in expected if e != ""] or parsed[m.name] == expected


def test_json_totals_match_the_hand_count(client: TestClient) -> None:
    data = client.get("/dashboard/data.json").json()
    assert data["total"]["values"] == EXPECTED_TOTAL
    assert {d["name"] for d in data["definitions"]} == set(EXPECTED_TOTAL)


@pytest.mark.parametrize("query,message", [
    ("since=last-tuesday", "since"), ("until=2025-02-30", "until"), ("since=2025-03-10&until=2025-03-01", "before"),
    ("channel=fax", "channel"), ("by=phone", "not a grouping"), ("owner=%3Cscript%3E", "owner"),
])
@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/data.json", "/dashboard/export.csv"])
def test_bad_filters_get_422_with_a_reason(client: TestClient, path: str, query: str, message: str) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_overlong_values_get_422(client: TestClient) -> None:
    assert client.get("/dashboard/data.json?source=" + "x" * 500).status_code == 422


def test_page_is_self_contained_and_shows_definitions(client: TestClient) -> None:
    response = client.get("/dashboard?by=channel")
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from elsewhere
    assert "<svg" in html and 'name="viewport"' in html
    for m in METRICS:
        assert m.formula.replace("`", "&#x60;").split()[0] in html or m.formula.split()[0] in html
    assert 'data-metric="recovered" data-group="total" data-value="2"' in html
    assert 'data-group="email"' in html
    assert 'href="dashboard/export.csv?by=channel"' in html


def test_page_escapes_values(client: TestClient, demo_ledger: Ledger) -> None:
    from datetime import UTC, datetime

    from domain.models import LedgerEvent

    demo_ledger.append(LedgerEvent(event_id="z:1", case_id="case-z", type="case_opened",
                                   at=datetime(2025, 3, 5, tzinfo=UTC), source="calcom",
                                   appointment_type="<b>x</b>"))
    html = client.get("/dashboard?by=appointment_type").text
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_cli_rejects_bad_input_without_a_traceback(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["report", "--by", "phone"])
    assert result.exit_code == 2
    assert "not a grouping" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["report", "--since", "soon"])
    assert result.exit_code == 2 and "since" in result.output


def test_cli_reads_the_ledger_url_from_the_environment(demo_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.cli.main import app
    from workers.settings import get_settings

    monkeypatch.setenv("NOSHOW_LEDGER_URL", demo_ledger.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["report", "--csv"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    total = next(csv.DictReader(io.StringIO(result.output)))
    assert total["cases"] == "10" and total["recovered_revenue"] == "180.0"
