"""HubSpot reconciliation resolves each meeting's contact through the API (v4 associations -> contact properties)
before a case starts; a meeting without one reachable contact goes to a human instead of starting a case that
cannot message anyone. Real dev server, real case workflow, the HubSpot fake."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from connectors.contract import PermanentProviderError
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.contacts import HubSpotContacts, hubspot_contact
from connectors.local.reconcile_state import SqliteAppointmentIndex
from domain.models import EventType
from domain.reconcile import ReconcileInput, ReconcileResult
from tests.engine.conftest import settings_for
from tests.fakes.providers import FakeHubSpot
from tests.helpers import eventually, fast_policy, settings_from
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.providers.sources import reconcile_activities, reconcile_sources
from workers.worker import case_activities
from workflows.case import RecoveryCaseWorkflow
from workflows.reconcile import ReconcileSourceWorkflow


def _ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class HubSpotWiring:
    client: Client
    task_queue: str
    deps: Dependencies
    cases: CaseService
    fake: FakeHubSpot

    async def reconcile(self) -> ReconcileResult:
        return await self.client.execute_workflow(
            ReconcileSourceWorkflow.run, ReconcileInput(source="hubspot", deliver=True),
            id=f"reconcile-hubspot-manual-{uuid.uuid4().hex[:8]}", task_queue=self.task_queue)

    def meeting(self, meeting_id: str, start: datetime, outcome: str = "SCHEDULED", *contacts: str) -> None:
        self.fake.objects["meetings"][meeting_id] = {"properties": {
            "hs_meeting_title": "Consultation", "hs_meeting_start_time": _iso(start),
            "hs_meeting_end_time": _iso(start + timedelta(minutes=30)), "hs_meeting_outcome": outcome,
            "hubspot_owner_id": "77", "hs_lastmodifieddate": _ms(datetime.now(UTC))}}
        for contact in contacts:
            self.fake.link("meetings", meeting_id, "contacts", contact)

    def touch(self, meeting_id: str, **props: str) -> None:
        self.fake.objects["meetings"][meeting_id]["properties"].update(
            hs_lastmodifieddate=_ms(datetime.now(UTC) + timedelta(seconds=1)), **props)

    def contact(self, record_id: str, **props: str) -> None:
        self.fake.objects["contacts"][record_id] = {"properties": props}

    def tasks(self) -> dict[str, str]:
        with self.deps.db.connect() as conn:
            return {r["idempotency_key"]: r["title"] for r in conn.execute("SELECT * FROM crm_tasks").fetchall()}

    async def case_ids(self) -> list[str]:
        query = f"TaskQueue = '{self.task_queue}' AND WorkflowType = 'RecoveryCase'"
        return sorted([wf.id async for wf in self.client.list_workflows(query)])


@pytest_asyncio.fixture
async def hubspot(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[HubSpotWiring]:
    deps = build_dependencies(settings_for(tmp_path, task_queue, fast_policy()))
    cases = CaseService(client, deps)
    with FakeHubSpot() as fake:
        sources = reconcile_sources(settings_from({"hubspot_access_token": "pat-test",
                                                   "hubspot_base_url": fake.base_url}))
        with ThreadPoolExecutor(16) as pool:
            activities = [*case_activities(deps, client),
                          *reconcile_activities(sources, deps.db, cases, deps.settings, tasks=deps.crm)]
            async with Worker(client, task_queue=task_queue, workflows=[RecoveryCaseWorkflow, ReconcileSourceWorkflow],
                              activities=activities, activity_executor=pool):
                try:
                    yield HubSpotWiring(client, task_queue, deps, cases, fake)  # type: ignore[arg-type]
                finally:
                    async for wf in client.list_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = "
                                                          f"'Running'"):
                        await client.get_workflow_handle(wf.id).terminate("test over")


def test_contact_properties_are_copied_never_invented() -> None:
    full = hubspot_contact("9001", {"firstname": "Pat", "email": "pat@example.com", "phone": "+1 555 123 4567",
                                    "hs_timezone": "america_slash_new_york", "hs_language": "fr",
                                    "hs_email_optout": "false"})
    assert full is not None and full.contact_id == "hubspot:9001"
    assert (full.name, full.email, full.phone, full.timezone, full.locale) == (
        "Pat", "pat@example.com", "+1 555 123 4567", "America/New_York", "fr")
    # an unsubscribed email is left out; the mobile number is used when there is no phone
    opted_out = hubspot_contact("9002", {"email": "x@example.com", "mobilephone": "+15550001111",
                                         "hs_email_optout": "true", "hs_timezone": "mars_slash_olympus"})
    assert opted_out is not None and opted_out.email is None and opted_out.phone == "+15550001111"
    assert opted_out.timezone is None and opted_out.name is None and opted_out.locale == "en"
    assert hubspot_contact("9003", {"email": "x@example.com", "hs_email_optout": "true"}) is None
    assert hubspot_contact("9004", {"firstname": "Nobody", "email": "not-an-email"}) is None


def test_contact_resolution_answers_why_not() -> None:
    fake = FakeHubSpot()
    with fake:
        contacts = HubSpotContacts(HubSpotClient("pat-test", base_url=fake.base_url))
        assert contacts.for_meeting("404404") == "the meeting no longer exists in HubSpot"
        assert contacts.for_meeting("../contacts") == "the meeting id is not a HubSpot record id"
        fake.objects["meetings"]["1"] = {"properties": {}}
        fake.link("meetings", "1", "contacts", "55")
        assert contacts.for_meeting("1") == "the associated contact no longer exists in HubSpot"
        fake.fail_next(403, {"status": "error", "category": "MISSING_SCOPES", "message": "scope"})
        with pytest.raises(PermanentProviderError):  # a missing scope fails the run; it does not review everything
            contacts.for_meeting("1")
        [call] = [c for c in fake.calls("GET", "/crm/v4/") if c.path.endswith("/1/associations/contacts")][:1]
        assert call.headers["authorization"] == "Bearer pat-test"


async def test_meetings_start_cases_only_with_a_resolved_contact(hubspot: HubSpotWiring) -> None:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    hubspot.contact("9001", firstname="Pat", email="pat@example.com", phone="+15551234567",
                    hs_timezone="america_slash_chicago", hs_email_optout="false")
    hubspot.contact("9002", firstname="Sam", email="sam@example.com")
    hubspot.contact("9003", firstname="Opted", email="out@example.com", hs_email_optout="true")
    hubspot.meeting("501", start, "SCHEDULED", "9001")
    hubspot.meeting("502", start)  # no associated contact
    hubspot.meeting("503", start, "SCHEDULED", "9001", "9002")  # whose meeting is it?
    hubspot.meeting("504", start, "SCHEDULED", "9003")  # only an email the contact unsubscribed

    first = await hubspot.reconcile()
    [booked] = first.events
    assert (booked.type, booked.appointment.appointment_id) == (EventType.booked, "501")
    contact = booked.appointment.contact
    assert (contact.contact_id, contact.name, contact.phone, contact.timezone) == (
        "hubspot:9001", "Pat", "+15551234567", "America/Chicago")
    case_501 = hubspot.cases.case_id("hubspot", "501")
    assert await eventually(hubspot.case_ids, lambda ids: len(ids) >= 1) == [case_501]
    stored = hubspot.deps.crm.contact("hubspot:9001")
    assert stored is not None and stored.email == "pat@example.com"

    # the others: no case, a task for a human each (once), and not marked as seen
    reasons = {r.appointment_id: r.reason for r in first.needs_review}
    assert reasons == {"502": "no contact is associated with the meeting",
                       "503": "several contacts are associated with the meeting",
                       "504": "the contact has no phone or email we may use"}
    tasks = hubspot.tasks()
    assert set(tasks) == {f"reconcile-review-hubspot-{m}" for m in ("502", "503", "504")}
    assert "pat@example.com" not in " ".join(tasks.values()) and "Sam" not in " ".join(tasks.values())
    index = SqliteAppointmentIndex(hubspot.deps.db)
    assert index.get("hubspot", "502") is None and index.get("hubspot", "501") is not None

    # someone adds the contact in HubSpot: the next run starts the case
    hubspot.fake.link("meetings", "502", "contacts", "9002")
    hubspot.touch("502")
    second = await hubspot.reconcile()
    assert [(e.type, e.appointment.appointment_id, e.appointment.contact.contact_id) for e in second.events] == [
        (EventType.booked, "502", "hubspot:9002")]
    assert second.needs_review == []
    await eventually(hubspot.case_ids, lambda ids: len(ids) == 2)
    assert len(hubspot.tasks()) == 3  # nothing new to ask


async def test_an_outcome_for_a_meeting_with_a_case_reaches_it_even_when_the_contact_is_gone(
        hubspot: HubSpotWiring) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    hubspot.contact("9001", firstname="Pat", email="pat@example.com", phone="+15551234567")
    later = start + timedelta(days=2)
    hubspot.meeting("601", later, "SCHEDULED", "9001")
    await hubspot.reconcile()
    case_id = hubspot.cases.case_id("hubspot", "601")
    await eventually(hubspot.case_ids, lambda ids: ids == [case_id])

    # the contact record is deleted in HubSpot, then the meeting is marked NO_SHOW
    del hubspot.fake.objects["contacts"]["9001"]
    hubspot.touch("601", hs_meeting_outcome="NO_SHOW")
    found = await hubspot.reconcile()
    [event] = found.events
    assert event.type == EventType.no_show and found.unresolved == {
        event.event_id: "the associated contact no longer exists in HubSpot"}

    async def timeline() -> list[str]:
        state = await hubspot.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id).query(  # type: ignore[arg-type]
            RecoveryCaseWorkflow.state_query)
        return [t.what for t in state.timeline]

    await eventually(timeline, lambda whats: f"event {EventType.no_show.value}" in whats)
    assert hubspot.tasks() == {}  # the case exists: nobody needs to be asked
    assert await hubspot.case_ids() == [case_id]

    # a NO_SHOW on a meeting nobody has seen and whose contact is unknown starts nothing
    hubspot.meeting("602", start, "NO_SHOW")
    hubspot.touch("602")  # changed after the cursor
    unseen = await hubspot.reconcile()
    assert unseen.events == [] and [r.appointment_id for r in unseen.needs_review] == ["602"]
    assert await hubspot.case_ids() == [case_id]
