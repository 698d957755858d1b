"""Reconciliation wired end to end on the real dev server: Cal.com fake as the source, the SQLite index and
cursor store, delivery through CaseService into the real case workflow, and the per-source Schedule."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.worker import Worker

from activities.reconcile import DeliverEvents, ReconcileInput, ReconcileResult
from connectors.local.db import LocalDb
from domain.models import EventType
from tests.engine.conftest import settings_for
from tests.fakes.providers import FakeCalcom
from tests.helpers import eventually, fast_policy
from workers.cases import CaseService
from workers.dependencies import Dependencies, build_dependencies
from workers.reconcile import (
    DeliveryActivities,
    ReconcileSettings,
    SqliteAppointmentIndex,
    SqliteCursorStore,
    ensure_schedules,
    reconcile_activities,
    reconcile_sources_from_env,
    schedule_id,
)
from workers.worker import build_activities
from workflows.case import RecoveryCaseWorkflow
from workflows.reconcile import ReconcileSourceWorkflow


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _booking(uid: str, start: datetime, updated: datetime) -> dict[str, Any]:
    return {"uid": uid, "status": "accepted", "start": _iso(start), "end": _iso(start + timedelta(minutes=30)),
            "eventTypeId": 7, "eventType": {"id": 7, "slug": "consultation"}, "hosts": [{"id": 5}],
            "updatedAt": _iso(updated),
            "attendees": [{"name": "John Doe", "email": "john@example.com", "timeZone": "UTC", "absent": False}]}


@dataclass
class Wiring:
    client: Client
    task_queue: str
    deps: Dependencies
    cases: CaseService
    fake: FakeCalcom

    async def reconcile(self) -> ReconcileResult:
        # what the Schedule starts: fixed input, no cursor
        return await self.client.execute_workflow(
            ReconcileSourceWorkflow.run, ReconcileInput(source="calcom", deliver=True),
            id=f"reconcile-calcom-manual-{uuid.uuid4().hex[:8]}", task_queue=self.task_queue,
            result_type=ReconcileResult)

    def add_missed_booking(self) -> str:
        uid = f"b{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        self.fake.bookings[uid] = _booking(uid, (now + timedelta(days=2)).replace(microsecond=0), now)
        return uid


@pytest_asyncio.fixture
async def wiring(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Wiring]:
    deps = build_dependencies(settings_for(tmp_path, task_queue, fast_policy()))
    cases = CaseService(client, deps)
    with FakeCalcom() as fake:
        sources = reconcile_sources_from_env(
            ReconcileSettings(_env_file=None, calcom_api_key="cal_test", calcom_base_url=fake.base_url + "/v2"))
        assert list(sources) == ["calcom"]
        with ThreadPoolExecutor(16) as pool:
            activities = [*build_activities(deps, client), *reconcile_activities(sources, deps.db, cases)]
            worker = Worker(client, task_queue=task_queue, workflows=[RecoveryCaseWorkflow, ReconcileSourceWorkflow],
                            activities=activities, activity_executor=pool)
            async with worker:
                wiring = Wiring(client, task_queue, deps, cases, fake)  # type: ignore[arg-type]
                try:
                    yield wiring
                finally:
                    await _terminate_cases(client, task_queue)


async def _terminate_cases(client: Client, task_queue: str) -> None:
    async for wf in client.list_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"):
        await client.get_workflow_handle(wf.id).terminate("test over")


async def _case_ids(client: Client, task_queue: str) -> list[str]:
    query = f"TaskQueue = '{task_queue}' AND WorkflowType = 'RecoveryCase'"
    return [wf.id async for wf in client.list_workflows(query)]


async def _booked_notes(client: Client, case_id: str) -> int:
    state = await client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id).query(  # type: ignore[arg-type]
        RecoveryCaseWorkflow.state_query)
    return sum(1 for t in state.timeline if t.what == f"event {EventType.booked.value}")


async def _signals_settled(client: Client, case_id: str, signals: int) -> bool:
    """`signals` appointment_event signals are in the history and a workflow task completed after the last."""
    events = [e async for e in client.get_workflow_handle(case_id).fetch_history_events()]
    seen, settled = 0, False
    for e in events:
        if e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            seen += e.workflow_execution_signaled_event_attributes.signal_name == "appointment_event"
            settled = False
        elif e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            settled = True
    return seen == signals and settled


async def test_a_missed_booking_becomes_exactly_one_case_and_reruns_change_nothing(wiring: Wiring,
                                                                                   tmp_path: Path) -> None:
    client, tq = wiring.client, wiring.task_queue

    # first run ever: a baseline that stores where it got to
    baseline = await wiring.reconcile()
    assert baseline.events == [] and baseline.cursor
    assert SqliteCursorStore(wiring.deps.db).get("calcom") == baseline.cursor

    # a booking whose BOOKING_CREATED webhook never arrived (Cal.com does not retry)
    uid = wiring.add_missed_booking()
    found = await wiring.reconcile()
    assert [(e.type, e.appointment.appointment_id) for e in found.events] == [(EventType.booked, uid)]
    sent_after = wiring.fake.calls("GET", "/v2/bookings")[-1].query["afterUpdatedAt"]
    assert sent_after.startswith(baseline.cursor[:19])  # the scheduled input had no cursor: the store supplied it
    case_id = wiring.cases.case_id("calcom", uid)
    assert await eventually(lambda: _case_ids(client, tq), lambda ids: len(ids) >= 1) == [case_id]
    assert await eventually(lambda: _booked_notes(client, case_id), lambda n: n >= 1) == 1

    # the same source polled again: nothing new, no second case, no second event
    again = await wiring.reconcile()
    assert again.events == [] and again.cursor == found.cursor
    assert SqliteCursorStore(wiring.deps.db).get("calcom") == found.cursor

    # a retried delivery (the activity failed after submitting) re-sends the same event: the case ignores it
    outcomes = await DeliveryActivities(wiring.cases).deliver_appointment_events(
        DeliverEvents(source="calcom", events=found.events))
    assert [(o.case_id, o.status) for o in outcomes.outcomes] == [(case_id, "accepted")]
    await eventually(lambda: _signals_settled(client, case_id, 2), bool)
    assert await _booked_notes(client, case_id) == 1
    assert await _case_ids(client, tq) == [case_id]

    # what was seen survives a restart: a fresh store on the same file knows the booking and the cursor
    reopened = LocalDb(wiring.deps.settings.local_db_path)
    entry = SqliteAppointmentIndex(reopened).get("calcom", uid)
    assert entry is not None and entry.status == "active"
    assert SqliteCursorStore(reopened).get("calcom") == found.cursor


async def _nth_run(client: Client, sid: str, n: int) -> ReconcileResult:
    handle = client.get_schedule_handle(sid)
    desc = await eventually(handle.describe, lambda d: len(d.info.recent_actions) >= n)
    action = desc.info.recent_actions[n - 1].action
    run = client.get_workflow_handle_for(ReconcileSourceWorkflow.run, action.workflow_id)  # type: ignore[attr-defined]
    return await asyncio.wait_for(run.result(), timeout=30)


async def test_ensure_schedules_creates_one_schedule_per_source_and_is_idempotent(wiring: Wiring) -> None:
    client, tq = wiring.client, wiring.task_queue
    sid = schedule_id("calcom")
    try:
        assert await ensure_schedules(client, {"calcom": object()}, tq, timedelta(minutes=15)) == [sid]
        handle = client.get_schedule_handle(sid)
        desc = await handle.describe()
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.id, action.task_queue) == ("ReconcileSourceWorkflow", sid, tq)
        [inp] = await client.data_converter.decode(list(action.args), [ReconcileInput])  # type: ignore[arg-type]
        assert inp == ReconcileInput(source="calcom", cursor=None, deliver=True)
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(minutes=15)]
        assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP

        # a scheduled run (fixed input) baselines, a later one finds the missed booking through the stored cursor
        await handle.trigger()
        assert (await _nth_run(client, sid, 1)).events == []
        uid = wiring.add_missed_booking()
        await handle.trigger()
        second = await _nth_run(client, sid, 2)
        assert [e.appointment.appointment_id for e in second.events] == [uid]
        case_id = wiring.cases.case_id("calcom", uid)
        await eventually(lambda: _case_ids(client, tq), lambda ids: ids == [case_id])

        # again, with a new period, on a schedule an operator paused: updated in place, still paused
        await handle.pause(note="maintenance")
        assert await ensure_schedules(client, ["calcom"], tq, timedelta(minutes=30)) == [sid]
        desc = await handle.describe()
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(minutes=30)]
        assert desc.schedule.state.paused and desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        ids = [s.id async for s in await client.list_schedules()]
        assert ids.count(sid) <= 1  # visibility may lag; there is never a second one
    finally:
        await client.get_schedule_handle(sid).delete()


@pytest.mark.parametrize("env, expected", [
    ({}, {}),
    ({"calcom_api_key": "cal_live_x"}, {"calcom": "ok"}),
    ({"calendly_token": "t"}, {"calendly": "error"}),
    ({"google_access_token": "t", "google_calendar_id": "ops@example.org", "graph_user": "u@example.org"},
     {"google": "ok", "outlook": "error"}),
    ({"hubspot_access_token": "t", "hubspot_base_url": "api.hubapi.com"}, {"hubspot": "error"}),
])
def test_sources_from_settings(env: dict[str, str], expected: dict[str, str]) -> None:
    from workers.reconcile import reconcile_checks

    rs = ReconcileSettings(_env_file=None, **env)  # type: ignore[arg-type]
    checks = {c.name: c.status for c in reconcile_checks(rs) if c.status != "off"}
    assert checks == expected
    assert sorted(reconcile_sources_from_env(rs)) == sorted(k for k, v in expected.items() if v == "ok")
