"""Acceptance for the polled field-service systems: ServiceTitan (no webhook: each change is found by a run of the
`servicetitan` reconcile Schedule) and Jobber (signed webhooks that trigger the `jobber` poll; a deleted visit's
VISIT_DESTROY is itself the cancellation). A no-show, a late cancel, an early cancellation and a reschedule in each
become the right case kinds with the right first words, against their fakes and a real Temporal worker; for
ServiceTitan a technician's failed-access cancel reason goes to a person before any message. One stack per system:
every scenario's appointment lives side by side in the same account, as they would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from domain.ids import case_id_for
from tests.e2e.appointment_helpers import (
    SCENARIOS,
    assert_kind,
    case_started,
    jobber_env,
    reconcile_idle,
    scenario_start,
    servicetitan_env,
    templates,
)
from tests.e2e.provider_helpers import ProviderStack, provider_stack, writeback_policy
from tests.fakes.jobber_fake import FakeJobber, jobber_webhook
from tests.fakes.servicetitan_fake import FakeServiceTitan
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import reconcile_now

pytestmark = [pytest.mark.timeout(150)]

NO_ACCESS, CUSTOMER_CANCELLED, TECH_LOCKED_OUT = 7, 8, 9  # the fake tenant's job cancel reasons
MINUTES = 60


def person(i: int) -> tuple[str, str]:
    """An email and phone of one's own per scenario: the send caps count per recipient across cases."""
    return f"pat-{uuid.uuid4().hex[:8]}@example.com", f"+155512300{20 + i}"


def case_of(stack: ProviderStack, source: str, appointment_id: str) -> str:
    return case_id_for(source, appointment_id, stack.deps.settings.auth.id_salt)


# ---------------------------------------------------------------------------- ServiceTitan: polled only


async def test_servicetitan_changes_found_by_the_poll_become_the_right_case_kinds(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    scenarios = [*SCENARIOS, "failed_access"]
    with FakeServiceTitan() as fake:
        env = servicetitan_env(fake.base_url, reasons=f'["{NO_ACCESS}"]', failed_access=f'["{TECH_LOCKED_OUT}"]')
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            # the first run is the baseline, which starts no case for a job already begun: let it pass first
            await reconcile_now(stack.client, "servicetitan", 30)
            jobs: dict[str, tuple[int, int]] = {}
            ends: dict[str, datetime] = {}
            for i, scenario in enumerate(scenarios):
                start = scenario_start("no_show" if scenario == "failed_access" else scenario)
                email, phone = person(i)
                jobs[scenario] = fake.add_job(fake.add_customer("Pat Example", email, phone), start,
                                              start + timedelta(minutes=MINUTES))
                ends[scenario] = start + timedelta(minutes=MINUTES)
            await reconcile_now(stack.client, "servicetitan", 30)
            cases = {s: case_of(stack, "servicetitan", str(aid)) for s, (_, aid) in jobs.items()}
            for case_id in cases.values():
                await case_started(stack, case_id)

            # what the office records in ServiceTitan: cancels with the tenant's reasons, a dispatcher's move
            fake.cancel_job(jobs["no_show"][0], NO_ACCESS)
            fake.cancel_job(jobs["failed_access"][0], TECH_LOCKED_OUT)
            fake.cancel_job(jobs["late_cancel"][0], CUSTOMER_CANCELLED)
            fake.cancel_job(jobs["cancellation"][0], CUSTOMER_CANCELLED)
            moved = scenario_start("reschedule") + timedelta(days=1)
            fake.move(jobs["reschedule"][1], moved, moved + timedelta(minutes=MINUTES))
            ends["reschedule"] = moved + timedelta(minutes=MINUTES)
            await reconcile_now(stack.client, "servicetitan", 30)

            for scenario in SCENARIOS:
                await assert_kind(stack, (cases[scenario], ends[scenario]), scenario)
            # the technician was there and could not get in: a person looks before anyone is written to
            waiting = await stack.reach(cases["failed_access"], "awaiting_review")
            assert waiting.kind.value == "failed_access", waiting.timeline
            assert waiting.review is not None and any("failed_access" in r for r in waiting.review.reasons)
            assert templates(stack, cases["failed_access"]) == []


# ---------------------------------------------------------------------------- Jobber: webhooks trigger the poll


async def jobber_deliver(stack: ProviderStack, topic: str, visit_id: str) -> list[dict[str, object]]:
    """A delivery as Jobber posts it, signed X-Jobber-Hmac-SHA256 under the app's client secret."""
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body, headers = jobber_webhook("jobber-secret", topic, visit_id, occured_at=at)
    r = await stack.http.post("/webhooks/jobber", content=body, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json().get("events") or [])


async def test_jobber_changes_delivered_by_webhook_become_the_right_case_kinds(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    with FakeJobber() as fake:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, jobber_env(fake.base_url),
                                  writeback_policy(zone)) as stack:
            await reconcile_now(stack.client, "jobber", 30)  # the baseline run, before any visit
            visits: dict[str, str] = {}
            ends: dict[str, datetime] = {}
            for i, scenario in enumerate(SCENARIOS):
                start = scenario_start(scenario)
                email, phone = person(i)
                status = "TODAY" if scenario == "no_show" else "UPCOMING"
                visits[scenario] = fake.add_visit(fake.add_client("Pat Example", email, phone), start,
                                                  start + timedelta(minutes=MINUTES), status=status)
                ends[scenario] = start + timedelta(minutes=MINUTES)
            await reconcile_idle(stack.client, "jobber")
            for visit_id in visits.values():
                assert await jobber_deliver(stack, "VISIT_CREATE", visit_id) == []  # the poll finds the visit
            cases = {s: case_of(stack, "jobber", v) for s, v in visits.items()}
            for case_id in cases.values():
                await case_started(stack, case_id)

            # in Jobber: the crew never completes the visit (LATE; the fake takes the status at once instead of
            # waiting for the end to pass), the office deletes two visits, and moves one
            fake.visits[visits["no_show"]]["visitStatus"] = "LATE"
            for scenario in ("late_cancel", "cancellation"):
                del fake.visits[visits[scenario]]
            moved = scenario_start("reschedule") + timedelta(days=1)
            fake.visits[visits["reschedule"]].update(startAt=moved.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                     endAt=(moved + timedelta(minutes=MINUTES)).strftime(
                                                         "%Y-%m-%dT%H:%M:%SZ"))
            ends["reschedule"] = moved + timedelta(minutes=MINUTES)
            await reconcile_idle(stack.client, "jobber")
            for scenario in ("late_cancel", "cancellation"):
                [event] = await jobber_deliver(stack, "VISIT_DESTROY", visits[scenario])
                assert event["status"] == "accepted" and event["case_id"] == cases[scenario], event
            await jobber_deliver(stack, "VISIT_UPDATE", visits["no_show"])
            await jobber_deliver(stack, "VISIT_UPDATE", visits["reschedule"])

            for scenario in SCENARIOS:
                await assert_kind(stack, (cases[scenario], ends[scenario]), scenario)
