"""ActiveCampaign and GoHighLevel reconciliation on the real dev server: a deal moved to a missed stage or an
appointment made / marked no-show in GoHighLevel whose webhook was lost is found by the poll and lands on the
case its webhook would have started (the same appointment id), a rerun starts nothing, the cursor advances, and a
refusal is told apart from a wait. The providers are the fakes of tests/fakes/."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.reconcile import ReconcileActivities
from connectors.activecampaign.client import ActiveCampaignClient
from connectors.activecampaign.inbound import ActiveCampaignInbound
from connectors.activecampaign.source import ActiveCampaignSource
from connectors.contract import RawRequest
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.gohighlevel.inbound import GoHighLevelInbound
from connectors.gohighlevel.source import GoHighLevelSource
from connectors.local.reconcile_state import SqliteCursorStore
from domain.models import EventType
from domain.reconcile import ReconcileInput, ReconcileResult
from tests.connectors.cases_gohighlevel import PUBLIC_PEM, ghl_request
from tests.engine.conftest import settings_for
from tests.fakes.activecampaign_fake import FakeActiveCampaign
from tests.fakes.base import FakeServer
from tests.fakes.gohighlevel_fake import FakeGoHighLevel
from tests.helpers import eventually, fast_policy, settings_from
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.providers.sources import reconcile_activities, reconcile_sources
from workers.worker import case_activities
from workflows.case import RecoveryCaseWorkflow
from workflows.reconcile import ReconcileSourceWorkflow

CALENDAR = "BqTwX8QFwXzpegMve9EQ"
AC_TOKEN, GHL_TOKEN = "ac-api-token", "pit-token"


@dataclass
class Polled:
    client: Client
    task_queue: str
    deps: Dependencies
    cases: CaseService
    source: str

    async def reconcile(self) -> ReconcileResult:
        # what the Schedule starts: fixed input, the cursor from the store
        return await self.client.execute_workflow(
            ReconcileSourceWorkflow.run, ReconcileInput(source=self.source, deliver=True),
            id=f"reconcile-{self.source}-manual-{uuid.uuid4().hex[:8]}", task_queue=self.task_queue,
            result_type=ReconcileResult)

    def cursor(self) -> str | None:
        return SqliteCursorStore(self.deps.db).get(self.source)

    async def case_ids(self) -> list[str]:
        query = f"TaskQueue = '{self.task_queue}' AND WorkflowType = 'RecoveryCase'"
        return sorted([wf.id async for wf in self.client.list_workflows(query)])

    async def timeline(self, case_id: str) -> list[str]:
        state = await self.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id).query(  # type: ignore[arg-type]
            RecoveryCaseWorkflow.state_query)
        return [t.what for t in state.timeline]


async def _running(client: Client, task_queue: str, tmp_path: Path, env: dict[str, str], source: str
                   ) -> AsyncIterator[Polled]:
    deps = build_dependencies(settings_for(tmp_path, task_queue, fast_policy()))
    cases = CaseService(client, deps)
    sources = reconcile_sources(settings_from(env))
    assert list(sources) == [source]
    with ThreadPoolExecutor(8) as pool:
        activities = [*case_activities(deps, client),
                      *reconcile_activities(sources, deps.db, cases, deps.settings, tasks=deps.crm)]
        async with Worker(client, task_queue=task_queue, workflows=[RecoveryCaseWorkflow, ReconcileSourceWorkflow],
                          activities=activities, activity_executor=pool):
            try:
                yield Polled(client, task_queue, deps, cases, source)
            finally:
                async for wf in client.list_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"):
                    await client.get_workflow_handle(wf.id).terminate("test over")


@pytest.fixture
def ac_fake() -> AsyncIterator[FakeActiveCampaign]:
    with FakeActiveCampaign(AC_TOKEN) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def ghl_fake() -> AsyncIterator[FakeGoHighLevel]:
    with FakeGoHighLevel(GHL_TOKEN) as fake:
        yield fake  # type: ignore[misc]


@pytest_asyncio.fixture
async def ac(client: Client, task_queue: str, tmp_path: Path, ac_fake: FakeActiveCampaign) -> AsyncIterator[Polled]:
    env = {"activecampaign_api_url": ac_fake.base_url, "activecampaign_api_token": AC_TOKEN,
           "activecampaign_missed_stages": '["Missed"]'}
    async for polled in _running(client, task_queue, tmp_path, env, "activecampaign"):
        yield polled


@pytest_asyncio.fixture
async def ghl(client: Client, task_queue: str, tmp_path: Path, ghl_fake: FakeGoHighLevel) -> AsyncIterator[Polled]:
    env = {"gohighlevel_access_token": GHL_TOKEN, "gohighlevel_location_id": ghl_fake.location_id,
           "gohighlevel_base_url": ghl_fake.base_url, "gohighlevel_calendar_id": CALENDAR}
    async for polled in _running(client, task_queue, tmp_path, env, "gohighlevel"):
        yield polled


# ---------------------------------------------------------------------------- ActiveCampaign


async def test_a_deal_moved_to_missed_without_its_webhook_starts_one_case(ac: Polled,
                                                                         ac_fake: FakeActiveCampaign) -> None:
    booked, missed = ac_fake.add_stage("Booked"), ac_fake.add_stage("Missed")
    person = ac_fake.add_contact("jane@example.com", "Jane", "Doe", "+15551234567")
    now = datetime.now(UTC).replace(microsecond=0)
    deal = ac_fake.add_deal(person, booked, now - timedelta(hours=2))

    baseline = await ac.reconcile()
    assert baseline.events == [] and ac.cursor() == baseline.cursor

    # the deal is moved to Missed in ActiveCampaign; the webhook (never retried) was lost
    ac_fake.move_deal(deal, missed, now - timedelta(minutes=5))
    found = await ac.reconcile()
    [event] = found.events
    assert (event.type, event.appointment.appointment_id) == (EventType.no_show, f"deal-{deal}")
    contact = event.appointment.contact
    assert (contact.contact_id, contact.name, contact.email) == (f"activecampaign:{person}", "Jane Doe",
                                                                   "jane@example.com")
    listed = ac_fake.calls("GET", "/api/3/deals")[-1].query
    assert listed["filters[stage]"] == missed and listed["filters[updated_after]"].startswith(baseline.cursor[:19])
    case_id = ac.cases.case_id("activecampaign", f"deal-{deal}")
    assert await eventually(ac.case_ids, lambda ids: len(ids) >= 1) == [case_id]
    assert found.cursor > baseline.cursor and ac.cursor() == found.cursor  # type: ignore[operator]

    again = await ac.reconcile()
    assert again.events == [] and again.cursor == found.cursor
    assert await ac.case_ids() == [case_id]


async def test_a_poll_after_the_webhook_lands_on_the_webhooks_case(ac: Polled, ac_fake: FakeActiveCampaign) -> None:
    missed = ac_fake.add_stage("Missed")
    person = ac_fake.add_contact("sam@example.com", "Sam", "Lee")
    await ac.reconcile()  # baseline
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    deal = ac_fake.add_deal(person, missed, at)
    form = {"type": "deal_update", "date_time": at.isoformat(), "deal[id]": deal, "deal[stageid]": missed,
            "deal[stage_title]": "Missed", "deal[contactid]": person, "deal[contact_email]": "sam@example.com"}
    hook = ActiveCampaignInbound("ac-url-token-0123456789").parse(RawRequest(
        method="POST", url="https://example.com/webhooks/activecampaign", body=urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"}))
    await ac.cases.submit_event(ac.cases.normalised(hook.events[0]))
    case_id = ac.cases.case_id("activecampaign", f"deal-{deal}")
    await eventually(ac.case_ids, lambda ids: ids == [case_id])

    polled = await ac.reconcile()
    assert [e.appointment.appointment_id for e in polled.events] == [f"deal-{deal}"]
    await eventually(lambda: ac.timeline(case_id), lambda whats: len(whats) > 0)
    assert await ac.case_ids() == [case_id]


def test_deal_pages_are_read_to_the_end_and_stage_titles_resolved(ac_fake: FakeActiveCampaign) -> None:
    missed, other = ac_fake.add_stage("Missed"), ac_fake.add_stage("Won")
    now = datetime.now(UTC).replace(microsecond=0)
    person = ac_fake.add_contact("pat@example.com")
    for i in range(130):
        ac_fake.add_deal(person, missed, now - timedelta(minutes=200 - i))
    ac_fake.add_deal(person, other, now - timedelta(minutes=10))
    old = ac_fake.add_deal(person, missed, now - timedelta(days=3))
    source = ActiveCampaignSource(ActiveCampaignClient(AC_TOKEN, ac_fake.base_url), ["missed"])
    page = source.poll((now - timedelta(days=1)).isoformat(), now)
    ids = [s.appointment.appointment_id for s in page.snapshots]
    assert len(ids) == len(set(ids)) == 130 and f"deal-{old}" not in ids
    assert {s.status for s in page.snapshots} == {"no_show"}
    offsets = [c.query["offset"] for c in ac_fake.calls("GET", "/api/3/deals")]
    assert offsets == ["0", "100"]
    assert len(ac_fake.calls("GET", "/api/3/contacts/")) == 1  # one read per contact per poll
    assert page.cursor == (now - timedelta(minutes=71)).isoformat()


# ---------------------------------------------------------------------------- GoHighLevel


async def test_an_appointment_and_its_no_show_without_webhooks_reach_one_case(ghl: Polled,
                                                                             ghl_fake: FakeGoHighLevel) -> None:
    ghl_fake.add_contact("9NkT25Vor1v4aQatFsv2", firstName="Jane", lastName="Doe", email="jane@example.com",
                         phone="+15551234567")
    baseline = await ghl.reconcile()
    assert baseline.events == [] and ghl.cursor() == baseline.cursor
    calls = ghl_fake.calls("GET", "/calendars/events")
    assert calls and calls[-1].query["calendarId"] == CALENDAR and calls[-1].headers["version"] == "2021-04-15"

    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    appt = ghl_fake.add_appointment(CALENDAR, "9NkT25Vor1v4aQatFsv2", start)
    ghl_fake.add_appointment("OtherCalendar0000001", "9NkT25Vor1v4aQatFsv2", start)  # not the polled calendar
    found = await ghl.reconcile()
    [event] = found.events
    assert (event.type, event.appointment.appointment_id, event.appointment.start) == (EventType.booked, appt, start)
    assert (event.appointment.contact.contact_id, event.appointment.contact.phone) == (
        "gohighlevel:9NkT25Vor1v4aQatFsv2", "+15551234567")
    case_id = ghl.cases.case_id("gohighlevel", appt)
    assert await eventually(ghl.case_ids, lambda ids: len(ids) >= 1) == [case_id]
    assert ghl.cursor() == found.cursor and found.cursor >= baseline.cursor  # type: ignore[operator]

    assert (await ghl.reconcile()).events == []  # nothing changed

    ghl_fake.set_status(appt, "noshow")
    marked = await ghl.reconcile()
    assert [e.type for e in marked.events] == [EventType.no_show]
    await eventually(lambda: ghl.timeline(case_id), lambda whats: f"event {EventType.no_show.value}" in whats)
    assert await ghl.case_ids() == [case_id]
    assert (await ghl.reconcile()).events == []


async def test_a_webhook_and_the_poll_for_one_appointment_share_a_case(ghl: Polled,
                                                                      ghl_fake: FakeGoHighLevel) -> None:
    ghl_fake.add_contact("9NkT25Vor1v4aQatFsv2", firstName="Jane", email="jane@example.com")
    await ghl.reconcile()  # baseline
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    appt = ghl_fake.add_appointment(CALENDAR, "9NkT25Vor1v4aQatFsv2", start)
    body = json.dumps({"type": "AppointmentCreate", "locationId": ghl_fake.location_id,
                       "appointment": ghl_fake.appointments[appt], "webhookId": uuid.uuid4().hex}).encode()
    hook = GoHighLevelInbound(PUBLIC_PEM).parse(ghl_request(body, datetime.now(UTC)))
    event = hook.events[0].model_copy(update={"appointment": hook.events[0].appointment.model_copy(update={
        "contact": hook.events[0].appointment.contact.model_copy(update={"email": "jane@example.com"})})})
    await ghl.cases.submit_event(ghl.cases.normalised(event))
    case_id = ghl.cases.case_id("gohighlevel", appt)
    await eventually(ghl.case_ids, lambda ids: ids == [case_id])

    polled = await ghl.reconcile()
    assert [(e.type, e.appointment.appointment_id) for e in polled.events] == [(EventType.booked, appt)]
    await eventually(lambda: ghl.timeline(case_id), lambda whats: len(whats) > 0)
    assert await ghl.case_ids() == [case_id]


def test_the_events_window_covers_back_and_ahead_in_31_day_calls(ghl_fake: FakeGoHighLevel) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ghl_fake.add_appointment(CALENDAR, "c1", now + timedelta(days=50))
    ghl_fake.add_appointment(CALENDAR, "c2", now - timedelta(days=6))
    ghl_fake.add_appointment(CALENDAR, "c3", now - timedelta(days=9))  # before the window
    blocked = ghl_fake.add_appointment(CALENDAR, "", now + timedelta(days=1))  # blocked time: nobody to recover
    source = GoHighLevelSource(GoHighLevelClient(GHL_TOKEN, ghl_fake.location_id, base_url=ghl_fake.base_url),
                               calendar_id=CALENDAR)
    page = source.poll(None, now)
    assert sorted(s.appointment.contact.contact_id for s in page.snapshots) == ["gohighlevel:c1", "gohighlevel:c2"]
    assert blocked not in {s.appointment.appointment_id for s in page.snapshots}
    windows = [(int(c.query["startTime"]), int(c.query["endTime"])) for c in ghl_fake.calls("GET", "/calendars/events")]
    assert len(windows) == 3 and all(end - start <= 31 * 86_400_000 for start, end in windows)
    assert windows[0][0] == int((now - timedelta(days=7)).timestamp() * 1000)
    assert windows[-1][1] == int((now + timedelta(days=60)).timestamp() * 1000)


# ---------------------------------------------------------------------------- refusals and waits


def _acts(fake: FakeServer) -> tuple[ReconcileActivities, str]:
    if isinstance(fake, FakeActiveCampaign):
        fake.add_stage("Missed")
        return ReconcileActivities({"activecampaign": ActiveCampaignSource(
            ActiveCampaignClient(AC_TOKEN, fake.base_url))}), "activecampaign"
    assert isinstance(fake, FakeGoHighLevel)
    return ReconcileActivities({"gohighlevel": GoHighLevelSource(
        GoHighLevelClient(GHL_TOKEN, fake.location_id, base_url=fake.base_url), calendar_id=CALENDAR)}), "gohighlevel"


@pytest.mark.parametrize("which", ["ac_fake", "ghl_fake"])
def test_a_refusal_stops_and_a_rate_limit_waits_as_told(which: str, request: pytest.FixtureRequest) -> None:
    fake: Any = request.getfixturevalue(which)
    acts, name = _acts(fake)
    inp = ReconcileInput(source=name, cursor=datetime.now(UTC).isoformat())

    fake.fail_next(401, {"message": "Invalid token"})
    with pytest.raises(ApplicationError) as refused:
        acts.reconcile_source(inp)
    assert refused.value.non_retryable and refused.value.type == "PermanentProviderError"

    fake.rate_limit_next("30")
    with pytest.raises(ApplicationError) as limited:
        acts.reconcile_source(inp)
    assert not limited.value.non_retryable and limited.value.next_retry_delay == timedelta(seconds=30)

    fake.fail_next(503, {"message": "down"}, {"Retry-After": "45"})
    with pytest.raises(ApplicationError) as down:
        acts.reconcile_source(inp)
    assert not down.value.non_retryable and down.value.next_retry_delay == timedelta(seconds=45)

    assert acts.reconcile_source(inp).events == []  # the provider is back: the run goes through
