"""`noshow demo --source servicetitan` against the in-process API and worker with the ServiceTitan fake: the demo
books a job for a new customer through the engine's client and cancels it with the tenant's failed-access
reason, one run of the reconcile Schedule finds it as a no-show, and the case is recovered on the local
calendar, its notes written back on the customer (`NOSHOW_CRM_PROVIDER=servicetitan`). A tenant that names no
failed-access reason is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.appointment_helpers import servicetitan_env
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.fakes.servicetitan_fake import FakeServiceTitan
from tests.helpers import settings_from
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import polled_refusal, run_polled_demo

pytestmark = pytest.mark.e2e


async def test_the_servicetitan_demo_finds_a_job_cancelled_for_no_access_and_recovers_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakeServiceTitan() as fake:
        env = {**servicetitan_env(fake.base_url), "NOSHOW_CRM_PROVIDER": "servicetitan"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "servicetitan", lines.append, timeout=30,
                                       http=stack.http, temporal=stack.client)
        assert ok, lines
        [job] = fake.jobs.values()
        assert job["jobStatus"] == "Canceled" and fake.cancel_reasons[job["id"]] == 7
        assert (job["businessUnitId"], job["jobTypeId"], job["campaignId"]) == (11, 21, 41)
        assert lines[2].endswith("appointment.no_show"), lines
        assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines
        notes = fake.customer_notes[job["customerId"]]  # the case's notes, written back on the customer
        assert notes and all("(ref nsk" in n["text"] for n in notes)
        polls = fake.calls("GET", "/appointments")
        assert len(polls) >= 2 and all("modifiedOnOrAfter" in p.query for p in polls)


def test_a_tenant_without_a_failed_access_reason_is_refused_in_one_line(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {**servicetitan_env("http://127.0.0.1:9", reasons="[]"), "settings_file": str(tmp_path / "none")}
    refusal = polled_refusal(settings_from(env), "servicetitan") or ""
    assert "NOSHOW_SERVICETITAN_NO_SHOW_REASON_IDS" in refusal and "\n" not in refusal
    remote = settings_from({**servicetitan_env("https://api.servicetitan.io"), "settings_file": str(tmp_path / "x")})
    assert "--yes-create" in (polled_refusal(remote, "servicetitan") or "")
