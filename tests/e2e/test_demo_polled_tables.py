"""`noshow demo --source sheets|airtable` against the in-process API and worker with the Sheets and Airtable fakes:
the demo writes a row / record marked no-show through the engine's own client, one run of the source's reconcile
Schedule finds it (the sheet by its changed row digest, the table by its modified time), and the case it starts is
recovered on the local calendar."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from tests.connectors.cases_airtable import BASE, TABLE
from tests.connectors.cases_sheets import SPREADSHEET
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.e2e.test_providers_e2e import polled
from tests.fakes.airtable_fake import AirtableFake
from tests.fakes.sheets_fake import SheetsFake
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import run_polled_demo

pytestmark = [pytest.mark.timeout(120)]
HEADER = ["Appointment ID", "Start", "End", "Timezone", "Status", "Contact ID", "Phone", "Email", "Name", "Type",
          "Outcome", "Recovery"]


def _recovered(lines: list[str]) -> None:
    assert [line.split()[1] for line in lines[:3]] == ["catch-up", "created", "reconcile"], lines
    assert lines[2].endswith("appointment.no_show"), lines
    assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines


async def test_the_sheets_demo_finds_a_no_show_row_by_its_digest_recovers_it_and_writes_the_outcome_back(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with SheetsFake() as sheets:
        sheets.put_sheet(SPREADSHEET, "Bookings", [HEADER])
        env = {"NOSHOW_GOOGLE_ACCESS_TOKEN": "sheets-token", "NOSHOW_SHEETS_SPREADSHEET_ID": SPREADSHEET,
               "NOSHOW_SHEETS_SHEET": "Bookings", "NOSHOW_SHEETS_BASE_URL": sheets.base_url,
               "NOSHOW_CRM_PROVIDER": "sheets",
               "NOSHOW_SHEETS_OUTCOME_COLUMNS": '{"outcome": "Outcome", "recovery_status": "Recovery"}'}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "sheets", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
            assert ok, lines
            _recovered(lines)
            await polled(lambda: sheets.rows(SPREADSHEET, "Bookings")[1], lambda r: len(r) > 10 and any(r[10:]))
        (_, row) = sheets.rows(SPREADSHEET, "Bookings")
        assert row[0].startswith("demo-") and row[4] == "no-show"  # the appointment columns are the business's
        written = [c.json() for c in sheets.calls("POST", ":batchUpdate")][1:]  # after the demo's own row
        assert written and all(d["range"].endswith(("K2", "L2")) for w in written for d in w["data"]), written
        assert len(sheets.calls("GET", "/values/")) >= 3  # the demo's header read and two reconcile runs


async def test_the_airtable_demo_finds_a_no_show_record_recovers_it_and_patches_the_outcome(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with AirtableFake(BASE, TABLE, "ach00000000000000") as table:
        env = {"NOSHOW_AIRTABLE_TOKEN": table.token, "NOSHOW_AIRTABLE_BASE_ID": BASE, "NOSHOW_AIRTABLE_TABLE": TABLE,
               "NOSHOW_AIRTABLE_BASE_URL": table.base_url, "NOSHOW_CRM_PROVIDER": "airtable",
               "NOSHOW_AIRTABLE_OUTCOME_FIELDS": '{"outcome": "Outcome"}'}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "airtable", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
            assert ok, lines
            _recovered(lines)
            await polled(lambda: table.calls("PATCH"), lambda calls: len(calls) >= 1)
        [record] = table.records.values()
        assert record["fields"]["Status"] == "no-show" and record["fields"]["Outcome"]
        assert all(set(r["fields"]) == {"Outcome"} for c in table.calls("PATCH") for r in c.json()["records"])
        polls = [c for c in table.calls("GET", f"/v0/{BASE}/{TABLE}") if "filterByFormula" in c.query]
        assert len(polls) >= 2


def test_a_real_sheet_or_base_needs_yes_create(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uuid

    from tests.helpers import settings_from
    from workers.dev.demo_polled import polled_refusal

    monkeypatch.chdir(tmp_path)
    base = {"settings_file": str(tmp_path / uuid.uuid4().hex)}
    sheet = settings_from({**base, "NOSHOW_GOOGLE_ACCESS_TOKEN": "ya29.t", "NOSHOW_SHEETS_SPREADSHEET_ID": SPREADSHEET})
    refusal = polled_refusal(sheet, "sheets") or ""
    assert "--yes-create" in refusal and "sheets.googleapis.com" in refusal
    assert polled_refusal(sheet, "sheets", yes_create=True) is None
    table = settings_from({**base, "NOSHOW_AIRTABLE_TOKEN": "pat", "NOSHOW_AIRTABLE_BASE_ID": BASE,
                           "NOSHOW_AIRTABLE_TABLE": TABLE})
    assert "api.airtable.com" in (polled_refusal(table, "airtable") or "")
    assert "NOSHOW_AIRTABLE_TOKEN" in (polled_refusal(settings_from(base), "airtable") or "")
