"""Ids and times the engine did not make: nothing reaches another workflow, nothing waits for year 9999."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import EventType
from tests.api.conftest import ADMIN, REVIEWER, Api, envelope


async def test_case_routes_refuse_ids_that_are_not_case_ids(api: Api) -> None:
    for path in ("/cases/reconcile-calcom", "/cases/backfill-0123456789abcdef01234567", "/cases/case-XYZ"):
        assert (await api.http.get(path, headers=ADMIN)).status_code == 404
    decided = await api.http.post("/reviews/reconcile-calcom/decision", headers=REVIEWER,
                                  json={"review_id": "r", "decision": "approve"})
    assert decided.status_code == 404
    replied = await api.http.post("/inbound/local", headers=ADMIN,
                                  json={"case_id": "reconcile-calcom", "text": "hello"})
    assert replied.status_code == 200 and replied.json()["routed"] == "unknown_sender"


async def test_appointments_far_from_now_start_no_case(api: Api) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for start in (datetime(9999, 1, 1, tzinfo=UTC), now - timedelta(days=400), now + timedelta(days=1000)):
        response = await api.post_event(envelope(EventType.no_show, start=start))
        assert response.status_code == 200, response.text
        outcome = response.json()["events"][0]
        assert outcome["status"] == "ignored" and outcome["reason"] == "appointment_time_out_of_range"
    assert not [w async for w in api.stack.client.list_workflows(
        f"TaskQueue = '{api.stack.deps.settings.temporal.task_queue}'")]
