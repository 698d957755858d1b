"""The HTTP API in-process (ASGI) against a real Temporal dev server and a real worker."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from domain.ids import case_id_for
from domain.models import EventType
from tests.api.conftest import ADMIN, REVIEWER, Api, envelope
from tests.helpers import eventually, fast_policy


async def workflow_count(api: Api) -> int:
    return len([w async for w in api.stack.client.list_workflows(
        f"TaskQueue = '{api.stack.deps.settings.temporal.task_queue}'")])


async def test_signed_event_starts_one_case_and_duplicates_do_not(api: Api) -> None:
    payload = envelope()
    body, headers = api.signed(payload)
    responses = [await api.http.post("/webhooks/events", content=body, headers=headers) for _ in range(5)]
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    case_ids = {r.json()["events"][0]["case_id"] for r in responses if r.json()["events"]}
    assert len(case_ids) == 1
    await eventually(lambda: workflow_count(api), lambda n: n == 1)


async def test_forged_stale_and_unsigned_requests_get_401_and_start_nothing(api: Api) -> None:
    payload = envelope()
    forged = await api.post_event(payload, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")
    stale = await api.post_event(payload, ts=int(time.time()) - 600)
    future = await api.post_event(payload, ts=int(time.time()) + 600)
    unsigned = await api.http.post("/webhooks/events", json=payload)
    body, headers = api.signed(payload)
    tampered = await api.http.post("/webhooks/events", content=body.replace(b"no_show", b"booked"), headers=headers)
    for r in (forged, stale, future, unsigned, tampered):
        assert r.status_code == 401, r.text
    assert await workflow_count(api) == 0


async def test_bad_bodies_get_clear_4xx_and_start_nothing(api: Api) -> None:
    body, headers = api.signed({"type": "appointment.no_show", "data": {"appointment": {"source": "x"}}})
    invalid = await api.http.post("/webhooks/events", content=body, headers=headers)
    assert invalid.status_code == 422 and "appointment" in invalid.json()["detail"]
    body, headers = api.signed({})  # type: ignore[arg-type]
    notjson_body = b"{not json"
    _, h2 = api.signed({})  # headers for a different body: fails signature first
    assert (await api.http.post("/webhooks/events", content=notjson_body, headers=h2)).status_code == 401
    big = b"x" * (api.stack.deps.settings.api.max_body_bytes + 1)
    too_big = await api.http.post("/webhooks/events", content=big, headers=headers)
    assert too_big.status_code == 413
    unknown = await api.post_event({"type": "appointment.teleported", "data": {}})
    assert unknown.status_code == 200 and unknown.json()["unknown_types"] == ["appointment.teleported"]
    assert (await api.http.post("/webhooks/nosuch", content=b"{}")).status_code == 404
    assert await workflow_count(api) == 0


async def test_unmanaged_calendar_is_ignored_and_counted(api: Api) -> None:
    policy = fast_policy()
    policy.sources = [s for s in policy.sources if s.source != "local"]
    api.stack.write_policy(policy)
    payload = envelope()
    r = await api.post_event(payload)
    outcome = r.json()["events"][0]
    assert r.status_code == 200 and outcome["status"] == "ignored" and outcome["case_id"] is None
    assert outcome["reason"] == "unmanaged_source"
    assert await workflow_count(api) == 0
    # no case starts, but the appointment is counted: one `ignored` ledger event under its would-be case id
    data = payload["data"]
    assert isinstance(data, dict)
    appt = data["appointment"]
    would_be = case_id_for(appt["source"], appt["appointment_id"], api.stack.deps.settings.auth.id_salt)
    counted = [(e.type, e.reason, e.source) for e in api.stack.deps.ledger.events(would_be)]
    assert counted == [("ignored", "unmanaged_source", appt["source"])]


async def test_review_endpoints_need_a_token_and_record_an_audit_row(api: Api) -> None:
    r = await api.post_event(envelope(EventType.booked))  # no evidence: goes to review
    case_id = r.json()["events"][0]["case_id"]
    assert (await api.http.get("/reviews")).status_code == 401
    assert (await api.http.get("/reviews", headers={"Authorization": "Bearer wrong"})).status_code == 401
    pending = await eventually(lambda: api.http.get("/reviews", headers=REVIEWER),
                               lambda resp: any(p["case_id"] == case_id for p in resp.json()))
    review_id = next(p["review_id"] for p in pending.json() if p["case_id"] == case_id)
    stale = await api.http.post(f"/reviews/{case_id}/decision", headers=REVIEWER,
                                json={"review_id": "old", "decision": "approve"})
    assert stale.status_code == 409 and "stale" in stale.json()["detail"]
    assert (await api.http.post(f"/reviews/{case_id}/decision",
                                json={"review_id": review_id, "decision": "approve"})).status_code == 401
    ok = await api.http.post(f"/reviews/{case_id}/decision", headers=REVIEWER,
                             json={"review_id": review_id, "decision": "reject", "note": "spoke by phone"})
    assert ok.status_code == 200, ok.text
    audit = api.stack.deps.reviews.audit_log(case_id)
    assert len(audit) == 1 and audit[0]["actor"] == "reviewer@example.com"
    again = await api.http.post(f"/reviews/{case_id}/decision", headers=REVIEWER,
                                json={"review_id": review_id, "decision": "approve"})
    assert again.status_code in (404, 409)
    assert len(api.stack.deps.reviews.audit_log(case_id)) == 1


async def test_self_serve_link_books_an_offered_slot(api: Api) -> None:
    policy = fast_policy()
    for p in policy.programs:
        p.rebooking.follow_new_appointment = False
    api.stack.write_policy(policy)
    r = await api.post_event(envelope(EventType.reschedule_requested,
                                      start=datetime.now(UTC) + timedelta(days=2)))
    case_id = r.json()["events"][0]["case_id"]
    state = await eventually(lambda: api.http.get(f"/cases/{case_id}", headers=ADMIN),
                             lambda resp: resp.json().get("stage") == "offering")
    link = state.json()["booking_link"]
    path = "/" + link.split("/", 3)[3]
    page = await api.http.get(path)
    assert page.status_code == 200 and page.text.count("<button") == 3
    assert page.headers["content-type"].startswith("text/html") and "viewport" in page.text
    assert "held for you until" in page.text and not re.search(r"\d{4}-\d\d-\d\dT", page.text)
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]  # local assets only
    forged = await api.http.get(path[:-3] + "abc")
    assert forged.status_code == 404 and forged.headers["content-type"].startswith("text/html")
    assert "Link not found" in forged.text and "{" not in forged.text.split("<body>")[1]  # no raw JSON
    booked = await api.http.post(path, data={"slot_index": "1"})
    assert booked.status_code in (200, 202) and booked.headers["content-type"].startswith("text/html")
    final = await eventually(lambda: api.http.get(f"/cases/{case_id}", headers=ADMIN),
                             lambda resp: resp.json().get("stage") == "confirmed")
    assert final.json()["new_appointment_start"] is not None
    again = await api.http.get(path)
    assert again.status_code == 200 and "already booked" in again.text and "<button" not in again.text


async def test_an_expired_link_says_so_on_a_page_and_how_to_get_new_times(api: Api) -> None:
    from connectors.settings import secret
    from domain.links import sign_link

    policy = fast_policy()
    api.stack.write_policy(policy)
    r = await api.post_event(envelope(EventType.reschedule_requested, start=datetime.now(UTC) + timedelta(days=2)))
    case_id = r.json()["events"][0]["case_id"]
    await eventually(lambda: api.http.get(f"/cases/{case_id}", headers=ADMIN),
                     lambda resp: resp.json().get("stage") == "offering")
    token = sign_link(secret(api.stack.deps.settings.auth.link_secret) or "", case_id, 1,
                      datetime.now(UTC) - timedelta(minutes=1))
    for response in (await api.http.get(f"/book/{token}"), await api.http.post(f"/book/{token}",
                                                                               data={"slot_index": "0"})):
        assert response.status_code == 410 and response.headers["content-type"].startswith("text/html")
        assert "expired" in response.text and "NEW TIMES" in response.text


async def test_health_and_openapi(api: Api) -> None:
    health = await api.http.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await api.http.get("/ready")
    assert ready.status_code == 200 and ready.json()["temporal"] is True and ready.json()["store"] is True
    spec = (await api.http.get("/openapi.json")).json()
    for path in ("/webhooks/{provider}", "/reviews", "/reviews/{case_id}/decision", "/cases/{case_id}",
                 "/book/{token}", "/health"):
        assert path in spec["paths"]
