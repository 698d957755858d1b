"""Phone-system events and the published event schemas through the HTTP API (in-process, real Temporal and
worker): a booking then a missed call from the same number leave a call-back task on that booking's case, the
schema route answers without credentials, and a body against the schema is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema

from domain.ids import case_id_for
from domain.models import EventType
from tests.api.conftest import Api, envelope
from tests.helpers import eventually
from workflows.case import RecoveryCaseWorkflow

CALLER = "+14155550123"


async def test_a_missed_call_after_a_phone_booking_leaves_a_call_back_task(api: Api) -> None:
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    booking = envelope(EventType.booked, phone=CALLER, timezone="America/Los_Angeles", start=start)
    booking["type"] = "phone.booking"
    answer = await api.post_event(booking)
    assert answer.status_code == 200, answer.text
    [started] = answer.json()["events"]
    appt = booking["data"]["appointment"]  # type: ignore[index]
    salt = api.stack.deps.settings.auth.id_salt
    assert started["case_id"] == case_id_for(appt["source"], appt["appointment_id"], salt)
    call = {"type": "phone.call_missed", "timestamp": datetime.now(UTC).isoformat(),
            "data": {"caller": "(415) 555-0123", "call_id": "pbx-1", "status": "no-answer"}}
    assert (await api.post_event(call)).status_code == 200
    tasks = await eventually(lambda: _tasks(api), lambda rows: len(rows) == 1)
    assert (tasks[0]["case_id"], tasks[0]["routed"], tasks[0]["intent"]) == (started["case_id"], "missed_call",
                                                                             "call_back")
    # the case itself heard of the call, as attendance evidence on its appointment
    handle = api.stack.client.get_workflow_handle(started["case_id"])
    state = await eventually(lambda: handle.query(RecoveryCaseWorkflow.state_query),
                             lambda s: any("attendance_signal" in t.what for t in s.timeline))
    assert state.stage.value == "watching"


async def _tasks(api: Api) -> list[dict[str, object]]:
    return api.stack.deps.inbox.tasks()


async def test_event_schemas_are_public_and_describe_what_the_route_accepts(api: Api) -> None:
    listed = await api.http.get("/schemas/events")
    assert listed.status_code == 200 and "phone.call_missed" in listed.json()["types"]
    schema = (await api.http.get("/schemas/events/phone.call_missed.json")).json()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"type": "phone.call_missed", "data": {"caller": CALLER}}, schema)
    booked = (await api.http.get("/schemas/events/appointment.booked.json")).json()
    jsonschema.validate(envelope(EventType.booked), booked)
    assert (await api.http.get("/schemas/events/appointment.teleported.json")).status_code == 404
    assert (await api.http.get("/schemas/events/..%2Fsecrets.json")).status_code in (404, 422)
    # what the schema refuses, the route refuses too, naming the field and never echoing the value
    refused = await api.post_event({"type": "phone.call_missed", "data": {"call_id": "pbx-2"}})
    assert refused.status_code == 422 and "caller" in refused.json()["detail"]
    assert "pbx-2" not in refused.text
