"""`noshow demo --source quickbooks` against the in-process API and worker with the QuickBooks fake: the demo bills
a service through the engine's own client and voids the invoice, one run of the reconcile Schedule reads it by
change data capture, and the case it starts (the program starts cases for voided invoices) is recovered on the
local calendar. Without such a program the demo refuses in one line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from policies.schema import InvoiceRules
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.fakes.quickbooks_fake import FakeQuickBooks
from tests.helpers import default_program, settings_from
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import polled_refusal, run_polled_demo


def quickbooks_env(url: str) -> dict[str, str]:
    return {"NOSHOW_QUICKBOOKS_CLIENT_ID": "qb-client", "NOSHOW_QUICKBOOKS_CLIENT_SECRET": "qb-secret",
            "NOSHOW_QUICKBOOKS_REFRESH_TOKEN": "AB11-refresh-0", "NOSHOW_QUICKBOOKS_REALM_ID": "9130357766900456",
            "NOSHOW_QUICKBOOKS_BASE_URL": f"{url}/v3", "NOSHOW_QUICKBOOKS_TOKEN_URL": f"{url}/oauth2/v1/tokens/bearer"}


async def test_the_quickbooks_demo_voids_a_service_invoice_found_by_polling_and_recovers_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    policy = writeback_policy(zone)
    default_program(policy).invoices = InvoiceRules(services=["Consultation"], voided="case")
    lines: list[str] = []
    with FakeQuickBooks() as company:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, quickbooks_env(company.base_url),
                                  policy) as stack:
            ok = await run_polled_demo(stack.deps.settings, "quickbooks", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
        assert ok, lines
        [invoice] = [i for i in company.invoices.values() if i.get("PrivateNote") == "Voided"]
        assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"] == "Consultation"
        assert lines[2].endswith("appointment.cancelled"), lines
        assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines
        assert len(company.calls("GET", "/cdc")) >= 2  # the catch-up run and the run that found it
        assert {c.query.get("minorversion") for c in company.calls(path_contains="/v3/")} == {"75"}


def test_without_a_program_that_starts_cases_for_voided_invoices_the_demo_refuses(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex),
                              **quickbooks_env("https://quickbooks.api.intuit.com")})
    refusal = polled_refusal(settings, "quickbooks") or ""
    assert "voided: case" in refusal and "\n" not in refusal
