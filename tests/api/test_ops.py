"""Operations endpoints: event types nobody handles are acknowledged to the provider and counted for a human."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.conftest import ADMIN, REVIEWER, Api


async def test_unknown_event_types_are_acknowledged_counted_and_start_nothing(api: Api) -> None:
    for _ in range(2):
        response = await api.post_event({"type": "appointment.paid", "timestamp": datetime.now(UTC).isoformat(),
                                         "data": {}})
        assert response.status_code == 200, response.text
        assert response.json()["events"] == [] and response.json()["unknown_types"] == ["appointment.paid"]
    assert (await api.http.get("/ops/unknown-event-types", headers=REVIEWER)).status_code == 403
    counted = await api.http.get("/ops/unknown-event-types", headers=ADMIN)
    assert counted.status_code == 200
    rows = {(r["provider"], r["type"]): r["count"] for r in counted.json()}
    assert rows == {("events", "appointment.paid"): 2}
    assert not [w async for w in api.stack.client.list_workflows(
        f"TaskQueue = '{api.stack.deps.settings.temporal.task_queue}'")]
