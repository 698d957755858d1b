"""ReconcileSourceWorkflow + ReconcileActivities on a real local Temporal dev server, Cal.com fake as source."""

from __future__ import annotations

import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.reconcile import CalcomSource, ReconcileActivities, diff
from connectors.calcom.client import CalcomClient
from connectors.sync import Snapshot
from domain.models import Appointment, Contact, EventType
from domain.reconcile import DeliverEvents, IndexEntry, ReconcileInput
from tests.fakes.providers import FakeCalcom
from workflows.reconcile import ReconcileSourceWorkflow

NOW = datetime(2026, 1, 6, 12, tzinfo=UTC)
START = datetime(2026, 1, 6, 15, tzinfo=UTC)


def _temporal_cli() -> str | None:
    local = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "temporal"
    return str(local) if local.exists() else shutil.which("temporal")


@pytest.fixture(scope="module")
async def client() -> Client:  # type: ignore[misc]
    cli = _temporal_cli()
    if cli is None:
        pytest.skip("temporal CLI not installed")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=cli, data_converter=pydantic_data_converter,
                                                ui=False)
    try:
        yield env.client
    finally:
        await env.shutdown()


def _booking(uid: str, start: datetime, updated: str, status: str = "accepted", absent: bool = False) -> dict:
    end = start + timedelta(minutes=30)
    return {"uid": uid, "status": status, "start": start.isoformat(), "end": end.isoformat(),
            "eventTypeId": 7, "eventType": {"id": 7, "slug": "30min"}, "hosts": [{"id": 5}], "updatedAt": updated,
            "attendees": [{"name": "John Doe", "email": "john@example.com", "timeZone": "UTC", "absent": absent}]}


async def test_reconcile_workflow_finds_missed_changes_and_commits_the_cursor(client: Client) -> None:
    delivered: list[DeliverEvents] = []

    @activity.defn(name="deliver_appointment_events")
    def deliver(batch: DeliverEvents) -> None:
        delivered.append(batch)

    with FakeCalcom() as fake:
        fake.bookings["b1"] = _booking("b1", START, "2026-01-05T10:00:00Z")
        fake.bookings["b0"] = _booking("b0", NOW - timedelta(days=30), "2026-01-05T11:00:00Z")  # old history
        source = CalcomSource(CalcomClient("cal_test", base_url=fake.base_url + "/v2"))
        acts = ReconcileActivities({"calcom": source}, clock=lambda: NOW)
        queue = f"reconcile-{uuid.uuid4()}"
        with ThreadPoolExecutor(4) as pool:
            async with Worker(client, task_queue=queue, workflows=[ReconcileSourceWorkflow],
                              activities=[acts.reconcile_source, acts.commit_reconcile, deliver],
                              activity_executor=pool):
                async def run(cursor: str | None) -> object:
                    return await client.execute_workflow(
                        ReconcileSourceWorkflow.run, ReconcileInput(source="calcom", cursor=cursor, deliver=True),
                        id=f"reconcile-calcom-{uuid.uuid4()}", task_queue=queue)

                # a cursor from before the lost webhooks: b1 is a booking nobody told us about
                first = await run("2026-01-05T00:00:00Z")
                assert [e.type for e in first.events] == [EventType.booked]  # type: ignore[attr-defined]
                assert first.events[0].appointment.appointment_id == "b1"  # type: ignore[attr-defined]
                assert first.cursor == "2026-01-05T11:00:00+00:00"  # type: ignore[attr-defined]
                assert len(delivered) == 1 and fake.calls("GET", "/v2/bookings")[0].query["afterUpdatedAt"]

                # the guest was marked absent and the webhook was lost
                fake.bookings["b1"] = _booking("b1", START, "2026-01-06T15:40:00Z", absent=True)
                second = await run(first.cursor)  # type: ignore[attr-defined]
                assert [e.type for e in second.events] == [EventType.no_show]  # type: ignore[attr-defined]
                assert second.events[0].appointment.contact.contact_id.startswith("calcom:ak-")  # type: ignore

                third = await run(second.cursor)  # type: ignore[attr-defined]
                assert third.events == [] and len(delivered) == 2  # type: ignore[attr-defined]


def _snap(status: str, start: datetime = START) -> Snapshot:
    appt = Appointment(source="google", appointment_id="e1", appointment_type="consultation", start=start,
                       end=start + timedelta(minutes=30), contact=Contact(contact_id="google:ak-1"))
    return Snapshot(appointment=appt, status=status, changed_at=NOW)  # type: ignore[arg-type]


def test_diff_rules() -> None:
    age = timedelta(days=7)
    seen = IndexEntry(start=START, end=START + timedelta(minutes=30), status="active")
    assert diff(_snap("active"), None, NOW, age, baseline=False).type == EventType.booked  # type: ignore[union-attr]
    assert diff(_snap("active"), seen, NOW, age, baseline=False) is None  # nothing changed
    moved = diff(_snap("active", START + timedelta(days=1)), seen, NOW, age, baseline=False)
    assert moved is not None and moved.type == EventType.rescheduled and moved.new_start == START + timedelta(days=1)
    assert diff(_snap("cancelled"), seen, NOW, age, baseline=False).type == EventType.cancelled  # type: ignore
    # first sync: past appointments and cancellations do not start cases; future bookings do
    assert diff(_snap("cancelled"), None, NOW, age, baseline=True) is None
    assert diff(_snap("active", NOW - timedelta(hours=5)), None, NOW, age, baseline=True) is None
    assert diff(_snap("active"), None, NOW, age, baseline=True) is not None
    assert diff(_snap("no_show", NOW - timedelta(days=30)), None, NOW, age, baseline=False) is None
    same_a = diff(_snap("no_show"), seen, NOW, age, baseline=False)
    same_b = diff(_snap("no_show"), seen, NOW, age, baseline=False)
    assert same_a is not None and same_b is not None and same_a.event_id == same_b.event_id
