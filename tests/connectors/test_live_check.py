"""`noshow connectors check --live` against every provider's fake: one read-only call each proves the credentials
(ok with what it read), wrong credentials are reported per provider with a reason, no secret value is printed,
and nothing is created or changed at any provider."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.connectors.cases_airtable import BASE, TABLE, WEBHOOK
from tests.connectors.cases_fhir import CLIENT_ID as FHIR_CLIENT
from tests.connectors.cases_fhir import KEY_ID as FHIR_KID
from tests.connectors.cases_fhir import SMART_KEY_PEM, SMART_PUBLIC_PEM
from tests.connectors.cases_salesforce import CONSUMER_KEY, KEY_PEM, USERNAME, fake_org
from tests.connectors.cases_sheets import SPREADSHEET
from tests.connectors.cases_zoho import CLIENT_ID, CLIENT_SECRET, REFRESH, fake_zoho
from tests.fakes.activecampaign_fake import FakeActiveCampaign
from tests.fakes.acuity_fake import FakeAcuity
from tests.fakes.airtable_fake import AirtableFake
from tests.fakes.base import FakeServer
from tests.fakes.fhir_fake import FakeFhir
from tests.fakes.gohighlevel_fake import FakeGoHighLevel
from tests.fakes.mailchimp_fake import FakeMailchimp
from tests.fakes.mindbody_fake import FakeMindbody
from tests.fakes.pipedrive_fake import FakePipedrive
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeGoogleCalendar, FakeGraph, FakeHubSpot
from tests.fakes.quickbooks_fake import FakeQuickBooks
from tests.fakes.sendgrid_fake import API_KEY as SENDGRID_KEY
from tests.fakes.sendgrid_fake import SendGridFake
from tests.fakes.sheets_fake import SheetsFake
from tests.fakes.slack_fake import BOT_TOKEN, SlackFake
from tests.fakes.square_fake import FakeSquare
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

PROBED = ["twilio", "sendgrid", "hubspot", "calcom", "salesforce", "zoho", "pipedrive", "activecampaign",
          "gohighlevel", "calendly", "google", "outlook", "slack", "mindbody", "acuity", "square",
          "fhir", "mailchimp", "quickbooks", "sheets", "airtable"]


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeServer]]:
    calcom, hubspot, calendly, google, graph = FakeCalcom(), FakeHubSpot(), FakeCalendly(), FakeGoogleCalendar(), \
        FakeGraph()
    calcom.api_key, hubspot.access_token = "cal_live_good", "pat-good"
    calendly.token, google.token, graph.token = "calendly-good", "ya29.good", "graph-good"
    servers: dict[str, FakeServer] = {
        "calendly": calendly, "google": google, "outlook": graph, "slack": SlackFake(),
        "twilio": TwilioFake(), "sendgrid": SendGridFake(), "hubspot": hubspot, "calcom": calcom,
        "salesforce": fake_org(), "zoho": fake_zoho(), "pipedrive": FakePipedrive(api_token="pd-good"),
        "activecampaign": FakeActiveCampaign("ac-good"), "gohighlevel": FakeGoHighLevel("pit-good", "loc123"),
        "mindbody": FakeMindbody(api_key="mb-good"), "acuity": FakeAcuity("11145481", "acuity-good"),
        "square": FakeSquare("sq-good"), "fhir": FakeFhir(FHIR_CLIENT, SMART_PUBLIC_PEM, FHIR_KID),
        "mailchimp": FakeMailchimp("mc-good-us6"), "quickbooks": FakeQuickBooks(),
        "sheets": SheetsFake(token="ya29.good"), "airtable": AirtableFake(BASE, TABLE, WEBHOOK, token="pat-good")}
    servers["sheets"].put_sheet(SPREADSHEET, "Sheet1", [["appointment_id", "start", "end"]])  # type: ignore[attr-defined]
    with ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server)
        yield servers


def _env(f: dict[str, FakeServer], good: bool = True) -> dict[str, str]:
    bad = "" if good else "-wrong"
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN + bad,
        "TWILIO_API_BASE_URL": f["twilio"].base_url,
        "SENDGRID_API_KEY": SENDGRID_KEY + bad, "SENDGRID_API_HOST": f["sendgrid"].base_url,
        "NOSHOW_HUBSPOT_ACCESS_TOKEN": "pat-good" + bad, "NOSHOW_HUBSPOT_BASE_URL": f["hubspot"].base_url,
        "NOSHOW_CALCOM_API_KEY": "cal_live_good" + bad, "NOSHOW_CALCOM_BASE_URL": f"{f['calcom'].base_url}/v2",
        "NOSHOW_SALESFORCE_CLIENT_ID": CONSUMER_KEY + bad, "NOSHOW_SALESFORCE_USERNAME": USERNAME,
        "NOSHOW_SALESFORCE_PRIVATE_KEY": KEY_PEM, "NOSHOW_SALESFORCE_LOGIN_URL": f["salesforce"].base_url,
        "NOSHOW_SALESFORCE_AUDIENCE": "https://login.salesforce.com",
        "NOSHOW_ZOHO_CLIENT_ID": CLIENT_ID, "NOSHOW_ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "NOSHOW_ZOHO_REFRESH_TOKEN": REFRESH + bad, "NOSHOW_ZOHO_ACCOUNTS_URL": f["zoho"].base_url,
        "NOSHOW_PIPEDRIVE_API_TOKEN": "pd-good" + bad, "NOSHOW_PIPEDRIVE_API_DOMAIN": f["pipedrive"].base_url,
        "NOSHOW_ACTIVECAMPAIGN_API_TOKEN": "ac-good" + bad,
        "NOSHOW_ACTIVECAMPAIGN_API_URL": f["activecampaign"].base_url,
        "NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN": "pit-good" + bad, "NOSHOW_GOHIGHLEVEL_LOCATION_ID": "loc123",
        "NOSHOW_GOHIGHLEVEL_BASE_URL": f["gohighlevel"].base_url,
        "NOSHOW_CALENDLY_TOKEN": "calendly-good" + bad, "NOSHOW_CALENDLY_BASE_URL": f["calendly"].base_url,
        "NOSHOW_CALENDLY_USER_URI": "https://api.calendly.com/users/AAAA",
        "NOSHOW_GOOGLE_ACCESS_TOKEN": "ya29.good" + bad, "NOSHOW_GOOGLE_CALENDAR_ID": "ops@example.org",
        "NOSHOW_GOOGLE_BASE_URL": f"{f['google'].base_url}/calendar/v3",
        "NOSHOW_GRAPH_ACCESS_TOKEN": "graph-good" + bad, "NOSHOW_GRAPH_USER": "ops@example.org",
        "NOSHOW_GRAPH_BASE_URL": f"{f['outlook'].base_url}/v1.0",
        "SLACK_BOT_TOKEN": BOT_TOKEN + bad, "SLACK_API_BASE_URL": f["slack"].api_url,
        "NOSHOW_MINDBODY_API_KEY": "mb-good" + bad, "NOSHOW_MINDBODY_SITE_ID": "-99",
        "NOSHOW_MINDBODY_USERNAME": "owner", "NOSHOW_MINDBODY_PASSWORD": "owner-pass",
        "NOSHOW_MINDBODY_BASE_URL": f"{f['mindbody'].base_url}/public/v6",
        "NOSHOW_ACUITY_USER_ID": "11145481", "NOSHOW_ACUITY_API_KEY": "acuity-good" + bad,
        "NOSHOW_ACUITY_BASE_URL": f["acuity"].base_url,
        "NOSHOW_SQUARE_ACCESS_TOKEN": "sq-good" + bad, "NOSHOW_SQUARE_BASE_URL": f["square"].base_url,
        "NOSHOW_FHIR_BASE_URL": f["fhir"].base_url, "NOSHOW_FHIR_CLIENT_ID": FHIR_CLIENT + bad,
        "NOSHOW_FHIR_PRIVATE_KEY": SMART_KEY_PEM, "NOSHOW_FHIR_KEY_ID": FHIR_KID,
        "NOSHOW_MAILCHIMP_API_KEY": "mc-good-us6" + bad, "NOSHOW_MAILCHIMP_BASE_URL": f"{f['mailchimp'].base_url}/3.0",
        "NOSHOW_QUICKBOOKS_CLIENT_ID": "qb-client", "NOSHOW_QUICKBOOKS_CLIENT_SECRET": "qb-secret",
        "NOSHOW_QUICKBOOKS_REFRESH_TOKEN": "AB11-refresh-0" + bad, "NOSHOW_QUICKBOOKS_REALM_ID": "9130357766900456",
        "NOSHOW_QUICKBOOKS_BASE_URL": f"{f['quickbooks'].base_url}/v3",
        "NOSHOW_QUICKBOOKS_TOKEN_URL": f"{f['quickbooks'].base_url}/oauth2/v1/tokens/bearer",
        "NOSHOW_SHEETS_SPREADSHEET_ID": SPREADSHEET, "NOSHOW_SHEETS_BASE_URL": f["sheets"].base_url,
        "NOSHOW_AIRTABLE_TOKEN": "pat-good" + bad, "NOSHOW_AIRTABLE_BASE_ID": BASE, "NOSHOW_AIRTABLE_TABLE": TABLE,
        "NOSHOW_AIRTABLE_BASE_URL": f["airtable"].base_url,
    }


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], *args: str) -> Any:
    from workers.cli.connectors import connectors_check
    from workers.providers import fhir, tokens

    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in list(os.environ):
        if name.startswith(("NOSHOW_", "TWILIO_", "SENDGRID_", "SLACK_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tokens, "_managers", {})  # a fresh grant per run, as in a fresh process
    monkeypatch.setattr(fhir, "_tokens", {})
    app = typer.Typer()
    app.command()(connectors_check)
    return CliRunner().invoke(app, list(args))


def test_live_check_proves_every_configured_provider_with_one_read(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fakes: dict[str, FakeServer]) -> None:
    result = _run(monkeypatch, tmp_path, _env(fakes), "--live", "--json")
    live = {c["name"]: c for c in json.loads(result.output)["live"]}
    assert sorted(live) == sorted(PROBED)
    assert {name: c["status"] for name, c in live.items()} == dict.fromkeys(PROBED, "ok"), live
    assert live["twilio"]["detail"] == "account active" and live["sendgrid"]["detail"] == "3 scopes"
    assert live["salesforce"]["detail"] == "14998 API requests left today"
    assert live["zoho"]["detail"] == "org 4150868000000225013" and live["pipedrive"]["detail"] == "user 1234"
    assert live["hubspot"]["detail"] == "portal 62515" and live["gohighlevel"]["detail"] == "location found"
    assert live["google"]["detail"] == "calendar found" and live["slack"]["detail"] == "bot token valid"
    assert live["mindbody"]["detail"] == "site -99 found, staff login accepted"
    assert live["acuity"]["detail"] == "account found" and live["square"]["detail"] == "booking profile found"
    assert live["sheets"]["detail"] == "header of 3 columns" and live["airtable"]["detail"] == "table answered"
    assert live["fhir"]["detail"] == "FHIR 4.0.1, appointments searchable"
    assert live["mailchimp"]["detail"] == "Everything's Chimpy!"
    assert live["quickbooks"]["detail"] == "company 9130357766900456 readable"
    assert result.exit_code == 0, result.output
    # reads only: GETs, the OAuth grants, Slack's auth.test (a POST that reads, as every Slack method is) and
    # Mindbody's staff user token (issuing one changes nothing at the site)
    reads = {"/services/oauth2/token", "/oauth/v2/token", "/api/auth.test", "/public/v6/usertoken/issue",
             "/oauth2/token", "/oauth2/v1/tokens/bearer"}
    for name, server in fakes.items():
        writes = [r for r in server.requests if r.method != "GET" and r.path not in reads]
        assert not writes, (name, [(r.method, r.path) for r in writes])
        assert server.requests, name


def test_wrong_credentials_are_reported_per_provider_without_their_values(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fakes: dict[str, FakeServer]) -> None:
    env = _env(fakes, good=False)
    result = _run(monkeypatch, tmp_path, env, "--live")
    assert result.exit_code == 1
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:] if line.startswith("  ")}
    for name in PROBED:
        assert " error " in lines[name] and ("refused" in lines[name] or "failed" in lines[name]), lines[name]
    assert "(invalid_client_id)" in lines["salesforce"] and "(invalid_code)" in lines["zoho"]
    assert "(unauthorized)" in lines["pipedrive"] and "HTTP 401" in lines["twilio"]
    assert "(invalid_auth)" in lines["slack"] and "(authError)" in lines["google"]
    assert "(DeniedAccess)" in lines["mindbody"]
    assert "(unauthorized)" in lines["acuity"] and "(UNAUTHORIZED)" in lines["square"]
    assert "(invalid_client)" in lines["fhir"]
    assert "(API Key Invalid)" in lines["mailchimp"] and "(invalid_grant)" in lines["quickbooks"]
    for value in env.values():
        if value.endswith("-wrong"):
            assert value not in result.output


def test_without_live_no_provider_is_called(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            fakes: dict[str, FakeServer]) -> None:
    result = _run(monkeypatch, tmp_path, _env(fakes), "--json")
    assert "live" not in json.loads(result.output)
    assert not any(server.requests for server in fakes.values())
