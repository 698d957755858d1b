"""The `noshow` command never surprises: exit 0 done, 1 refused or not found, 2 usage; --version; --json on
listings; paths from the settings, not the current directory; one clear line instead of a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from click.testing import Result
from temporalio.client import Client
from typer.testing import CliRunner

from domain.models import EventType
from policies.loader import load_policy
from reporting.cli import render_table
from reporting.ledger import Ledger
from reporting.metrics import build_report, make_filters
from tests.console.served import Served, served_api
from tests.helpers import appointment, event, eventually
from tests.reporting.demo import demo_events
from workers.cli.main import app
from workers.settings import get_settings

runner = CliRunner()


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest_asyncio.fixture
async def served(client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 fresh_settings: None) -> AsyncIterator[Served]:
    async with served_api(client, task_queue, tmp_path) as s:
        monkeypatch.setenv("NOSHOW_API_PORT", str(s.port))
        monkeypatch.setenv("NOSHOW_DATA_DIR", str(s.settings.storage.data_dir))
        get_settings.cache_clear()
        yield s


async def cli(*args: str) -> Result:
    # in a thread: the API answering it runs in this event loop
    return await asyncio.to_thread(runner.invoke, app, list(args))


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("noshow-recovery ")


def test_an_unknown_stage_is_a_usage_error_naming_the_choices() -> None:
    result = runner.invoke(app, ["cases", "--stage", "bogus"])
    assert result.exit_code == 2
    assert "awaiting_review" in result.output and "recovering" in result.output


async def test_a_reply_to_a_case_that_does_not_exist_is_refused(served: Served) -> None:
    result = await cli("reply", "case-doesnotexist", "yes")
    assert result.exit_code == 1 and "no such case" in result.output
    assert served.stack.deps.outbox.messages() == []


async def test_review_list_shows_due_type_value_and_evidence_and_json(served: Served) -> None:
    outcome = await served.stack.cases.submit_event(
        event(appointment(categories=["medical"], value=640.0, appointment_type="cleaning"), EventType.no_show))
    case_id = str(outcome.case_id)
    listed = await eventually(lambda: cli("review", "list"), lambda r: case_id in r.output, timeout=30)
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if case_id in x)
    assert "due 20" in line and "cleaning" in line and "640.00" in line
    assert "evidence:" in listed.output
    as_json = await cli("review", "list", "--json")
    rows = json.loads(as_json.output)
    mine = next(r for r in rows if r["case_id"] == case_id)
    assert mine["due_at"] and mine["value"] == 640.0 and mine["evidence"]


async def test_unknown_sender_replies_are_listed_by_the_cli(served: Served) -> None:
    out = await asyncio.to_thread(
        lambda: __import__("httpx").post(f"{served.url}/inbound/local", json={"case_id": "x", "text": "hello?"},
                                         headers={"Authorization": "Bearer dev-admin-token"}))
    assert out.json()["routed"] == "unknown_sender"
    listed = await cli("inbox", "list")
    assert listed.exit_code == 0 and "unknown_sender" in listed.output and "hello?" in listed.output
    rows = json.loads((await cli("inbox", "list", "--json")).output)
    assert any(r["text"] == "hello?" for r in rows)
    resolved = await cli("inbox", "resolve", rows[0]["item_id"], "--note", "answered")
    assert resolved.exit_code == 0
    assert (await cli("inbox", "resolve", rows[0]["item_id"])).exit_code == 1


async def test_cases_lists_as_json(served: Served) -> None:
    result = await cli("cases", "--json")
    assert result.exit_code == 0 and isinstance(json.loads(result.output), list)


def test_report_run_from_another_directory_creates_nothing_there(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSHOW_")}
    env["NOSHOW_DATA_DIR"] = "data"  # relative: taken from the project folder, not from where it runs
    result = subprocess.run([sys.executable, "-m", "workers.cli.main", "report"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_report_without_a_ledger_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      fresh_settings: None) -> None:
    monkeypatch.setenv("NOSHOW_DATA_DIR", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1 and "no ledger at" in result.output
    assert not (tmp_path / "nowhere").exists()


def test_report_by_week_fits_100_columns(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    start = datetime(2026, 1, 5, tzinfo=UTC)
    events = []
    for week in range(20):
        for ev in demo_events()[:6]:
            events.append(ev.model_copy(update={"case_id": f"{ev.case_id}-w{week}",
                                                "event_id": f"{ev.event_id}-w{week}",
                                                "at": start + timedelta(weeks=week)}))
    ledger.append_many(events)
    text = render_table(build_report(ledger, make_filters(), "week", weekly=False))
    ledger.close()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert (text.count("total") == 1 and "2026-W" in text) or "2026-" in text


def test_demo_under_a_policy_without_its_source_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    fresh_settings: None) -> None:
    policy = load_policy()
    policy.sources = [s for s in policy.sources if s.source != "demo"]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    monkeypatch.setenv("NOSHOW_POLICY_FILE", str(path))
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "does not watch the demo" in lines[0] and "Traceback" not in result.output
