"""Changing a case by hand through the admin API: admin token only, clear 4xx, one audit row naming who."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import EventType
from tests.api.conftest import ADMIN, REVIEWER, Api, envelope
from tests.helpers import eventually


async def test_admin_cancels_a_watched_case_and_it_is_audited(api: Api) -> None:
    start = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    r = await api.post_event(envelope(EventType.booked, start=start))
    case_id = r.json()["events"][0]["case_id"]
    await eventually(lambda: api.http.get(f"/cases/{case_id}", headers=ADMIN),
                     lambda resp: resp.status_code == 200 and resp.json()["stage"] == "watching")
    assert (await api.http.post(f"/cases/{case_id}/cancel")).status_code == 401
    assert (await api.http.post(f"/cases/{case_id}/cancel", headers=REVIEWER)).status_code == 403
    assert (await api.http.post(f"/cases/{case_id}/explode", headers=ADMIN)).status_code == 404
    assert (await api.http.post("/cases/case-000000000000000000000000/cancel", headers=ADMIN)).status_code == 404
    ok = await api.http.post(f"/cases/{case_id}/cancel", headers=ADMIN, json={"reason": "phoned the office"})
    assert ok.status_code == 200, ok.text
    final = await eventually(lambda: api.http.get(f"/cases/{case_id}", headers=ADMIN),
                             lambda resp: resp.json()["stage"] == "cancelled")
    assert final.json()["close_reason"] == "cancelled by staff"
    audit = [a for a in api.stack.deps.reviews.audit_log(case_id) if a["action"] == "case_cancel"]
    assert len(audit) == 1 and audit[0]["actor"] != ""
    late = await api.http.post(f"/cases/{case_id}/override", headers=ADMIN)
    assert late.status_code in (404, 409)  # a closed case takes no more commands
