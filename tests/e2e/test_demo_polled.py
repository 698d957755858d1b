"""`noshow demo --source salesforce|zoho` against the in-process API and worker with the Salesforce and Zoho fakes:
the demo writes a missed appointment through the engine's own client, triggers one run of the source's reconcile
Schedule, and the case that run starts is recovered on the local calendar. And the demo refuses, in one line,
to write to a provider that is not on this machine unless told to."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.connectors.cases_salesforce import AUDIENCE, CONSUMER_KEY, KEY_PEM, USERNAME, fake_org
from tests.connectors.cases_zoho import CLIENT_ID, CLIENT_SECRET, REFRESH, fake_zoho
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.helpers import settings_from
from workers.dev.demo import DemoRefused, daytime_contact
from workers.dev.demo_polled import POLLED, polled_refusal, run_polled_demo


def salesforce_env(login_url: str) -> dict[str, str]:
    return {"NOSHOW_SALESFORCE_CLIENT_ID": CONSUMER_KEY, "NOSHOW_SALESFORCE_USERNAME": USERNAME,
            "NOSHOW_SALESFORCE_PRIVATE_KEY": KEY_PEM, "NOSHOW_SALESFORCE_LOGIN_URL": login_url,
            "NOSHOW_SALESFORCE_AUDIENCE": AUDIENCE}


def zoho_env(accounts_url: str) -> dict[str, str]:
    return {"NOSHOW_ZOHO_CLIENT_ID": CLIENT_ID, "NOSHOW_ZOHO_CLIENT_SECRET": CLIENT_SECRET,
            "NOSHOW_ZOHO_REFRESH_TOKEN": REFRESH, "NOSHOW_ZOHO_ACCOUNTS_URL": accounts_url,
            "NOSHOW_ZOHO_OUTCOME_FIELD": "Outcome__c"}


async def test_the_salesforce_demo_finds_a_missed_service_appointment_by_polling_and_recovers_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with fake_org() as org:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, salesforce_env(org.base_url),
                                  writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "salesforce", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
        assert ok, lines
        [appointment] = org.records["ServiceAppointment"].values()
        assert appointment["Status"] == "Cannot Complete" and appointment["ContactId"] in org.records["Contact"]
        assert appointment["ParentRecordId"] in org.records["Account"]
        assert [line.split()[1] for line in lines[:3]] == ["catch-up", "created", "reconcile"], lines
        assert lines[2].endswith("appointment.no_show"), lines
        assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines
        assert all("stuck" not in line for line in lines), lines
        polls = [c for c in org.calls("GET") if "FROM ServiceAppointment" in c.query.get("q", "")]
        assert len(polls) >= 2  # the catch-up run and the run that found it


async def test_the_zoho_demo_finds_a_meeting_with_the_no_show_outcome_and_recovers_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with fake_zoho() as zoho:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, zoho_env(zoho.base_url),
                                  writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "zoho", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
        assert ok, lines
        [meeting] = zoho.records["Events"].values()
        assert meeting["Outcome__c"] == "No Show"
        assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines


def test_a_remote_org_needs_yes_create_and_misconfiguration_is_refused_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    base = {"settings_file": str(tmp_path / uuid.uuid4().hex)}
    real = settings_from({**base, **salesforce_env("https://login.salesforce.com")})
    refusal = polled_refusal(real, "salesforce") or ""
    assert "--yes-create" in refusal and "login.salesforce.com" in refusal and "\n" not in refusal
    assert polled_refusal(real, "salesforce", yes_create=True) is None
    with pytest.raises(DemoRefused):
        asyncio.run(run_polled_demo(real, "salesforce", print, timeout=1))

    local = settings_from({**base, **salesforce_env("http://127.0.0.1:9")})
    assert polled_refusal(local, "salesforce") is None
    bare = settings_from(base)
    assert "NOSHOW_SALESFORCE" in (polled_refusal(bare, "salesforce") or "")
    no_outcome = settings_from({**base, **{k: v for k, v in zoho_env("http://127.0.0.1:9").items()
                                           if k != "NOSHOW_ZOHO_OUTCOME_FIELD"}})
    assert "NOSHOW_ZOHO_OUTCOME_FIELD" in (polled_refusal(no_outcome, "zoho") or "")
    assert "salesforce" in (polled_refusal(bare, "pigeon") or "")
    assert sorted(POLLED) == ["airtable", "fhir", "jobber", "quickbooks", "salesforce", "servicetitan", "sheets",
                              "zoho"]


def test_the_cli_refuses_a_remote_org_in_one_line_and_names_the_flag(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    import os

    from typer.testing import CliRunner

    from workers.cli.main import app

    monkeypatch.chdir(tmp_path)  # no .env from the machine
    for name in list(os.environ):
        if name.startswith("NOSHOW_"):
            monkeypatch.delenv(name)
    for name, value in salesforce_env("https://login.salesforce.com").items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["demo", "--source", "salesforce", "--timeout", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--yes-create" in result.output and "ServiceAppointment" in result.output
    assert KEY_PEM not in result.output
