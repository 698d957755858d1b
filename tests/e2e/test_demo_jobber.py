"""`noshow demo --source jobber` against the in-process API and worker with the Jobber fake: the demo creates a
client, a job and a visit that ended uncompleted through the engine's GraphQL client (its rotating refresh token
through the token manager), one run of the reconcile Schedule reads the LATE visit as a no-show, and the case is
recovered on the local calendar, its notes written back on the Jobber client (`NOSHOW_CRM_PROVIDER=jobber`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from connectors.inbound import opt_dt
from tests.e2e.appointment_helpers import jobber_env
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.fakes.jobber_fake import FakeJobber, jobber_webhook
from tests.helpers import eventually, settings_from
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import polled_refusal, run_polled_demo

pytestmark = pytest.mark.e2e


async def test_the_jobber_demo_finds_a_late_visit_and_recovers_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakeJobber() as fake:
        env = {**jobber_env(fake.base_url), "NOSHOW_CRM_PROVIDER": "jobber"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "jobber", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
        assert ok, lines
        [visit] = fake.visits.values()
        assert visit["isComplete"] is False and fake.clients[visit["client"]]["emails"]
        # the rebooking moved the missed visit itself to the booked time (Jobber's "manual override"), its length
        # kept, and said so on its job
        start, end = opt_dt(visit["startAt"]), opt_dt(visit["endAt"])
        assert start is not None and end is not None and start > datetime.now(UTC), visit
        assert end - start == timedelta(minutes=30), visit
        assert fake.notes[visit["job"]] == [f"Missed visit rescheduled by the client to {visit['startAt']}"]
        assert lines[2].endswith("appointment.no_show"), lines
        assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines
        notes = fake.client_notes[visit["client"]]  # the case's notes, written back on the client
        assert notes and all("(ref nsk" in n["message"] for n in notes)
        assert "jobber-refresh" not in fake.valid_refresh  # the seed was spent and the rotated one kept


async def test_a_signed_jobber_webhook_runs_the_jobber_poll_and_a_forged_one_is_refused(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeJobber() as fake:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, jobber_env(fake.base_url)) as stack:
            def polls() -> int:
                return sum(1 for c in fake.calls("POST", "/api/graphql") if c.json()["operationName"] == "NoshowVisits")

            async def count() -> int:
                return polls()

            before = polls()
            body, headers = jobber_webhook("jobber-secret", "VISIT_UPDATE", "Z2lkOi8vSm9iYmVyL1Zpc2l0LzE=")
            forged = {**headers, "x-jobber-hmac-sha256": jobber_webhook("guessed", "VISIT_UPDATE", "x")[1][
                "x-jobber-hmac-sha256"]}
            assert (await stack.http.post("/webhooks/jobber", content=body, headers=forged)).status_code == 401
            answer = await stack.http.post("/webhooks/jobber", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            await eventually(count, lambda n: n > before)
            again = await stack.http.post("/webhooks/jobber", content=body, headers=headers)  # Jobber's retry
            assert again.status_code == 200


def test_an_account_that_is_not_a_local_fake_needs_yes_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    remote = settings_from({**jobber_env("https://api.getjobber.com"), "settings_file": str(tmp_path / "none")})
    refusal = polled_refusal(remote, "jobber") or ""
    assert "--yes-create" in refusal and "api.getjobber.com" in refusal and "\n" not in refusal
