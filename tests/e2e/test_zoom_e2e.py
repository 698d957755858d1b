"""Zoom attendance end to end: a Cal.com booking whose location is a Zoom join link, then Zoom's own signed
webhooks (https://developers.zoom.us/docs/api/webhooks/) into the in-process API, a real Temporal dev server and
worker. The customer joining (matched by a keyed hash of their email) makes the case attended; the meeting ending
without them makes it a no-show. No email is logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.e2e.provider_helpers import (
    ProviderStack,
    calcom_booking,
    calcom_headers,
    dumps,
    inbound_env,
    iso,
    provider_stack,
    slot_around_now,
)
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(120)]

ZOOM_SECRET = "zoom-e2e-secret-token"
HOST_ID = "z8yAAAAA8bbbQ"


def zoom_env() -> dict[str, str]:
    return {**inbound_env(), "NOSHOW_ZOOM_SECRET_TOKEN": ZOOM_SECRET}


def zoom_body(event: str, meeting_id: str, start: datetime, **obj: Any) -> bytes:
    payload = {"account_id": "AbCdEfGh", "object": {
        "id": meeting_id, "uuid": f"{meeting_id}-occurrence==", "host_id": HOST_ID, "topic": "Consultation",
        "type": 2, "start_time": iso(start), "timezone": "UTC", "duration": 30, **obj}}
    return json.dumps({"event": event, "event_ts": int(time.time() * 1000), "payload": payload}).encode()


def participant(pid: str, joined: datetime, email: str = "", user_id: str = "16778240",
                zoom_id: str = "") -> dict[str, Any]:
    return {"participant": {"user_id": user_id, "user_name": "Participant", "id": zoom_id, "participant_uuid": pid,
                            "join_time": iso(joined), "email": email, "registrant_id": ""}}


async def post_zoom(stack: ProviderStack, body: bytes, secret: str = ZOOM_SECRET) -> Any:
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return await stack.http.post("/webhooks/zoom", content=body, headers={
        "content-type": "application/json", "x-zm-signature": signature, "x-zm-request-timestamp": ts})


async def post_calcom(stack: ProviderStack, payload: dict[str, Any]) -> dict[str, Any]:
    body = dumps(payload)
    r = await stack.http.post("/webhooks/calcom", content=body, headers=calcom_headers(body))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def case_of(ack: dict[str, Any]) -> str:
    [event] = ack["events"]
    assert event["status"] == "accepted", ack
    return str(event["case_id"])


async def book_with_zoom(stack: ProviderStack, meeting_id: str, email: str, start: datetime,
                         end: datetime) -> str:
    phone, zone = daytime_contact()
    booking = calcom_booking(uuid.uuid4().hex[:22], email, phone, zone, start, end)
    booking["payload"]["location"] = f"https://us02web.zoom.us/j/{meeting_id}?pwd=Zm9vYmFy"
    booking["payload"]["metadata"] = {"videoCallUrl": f"https://us02web.zoom.us/j/{meeting_id}?pwd=Zm9vYmFy"}
    return case_of(await post_calcom(stack, booking))


async def test_the_customer_joining_the_zoom_meeting_makes_the_case_attended(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    meeting = str(85_000_000_000 + uuid.uuid4().int % 1_000_000_000)
    start, end = slot_around_now()
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, zoom_env()) as stack:
        case_id = await book_with_zoom(stack, meeting, email, start, end)
        await stack.reach(case_id, "watching")

        host = await post_zoom(stack, zoom_body("meeting.participant_joined", meeting, start,
                                                **participant("P-HOST", start, user_id=HOST_ID, zoom_id=HOST_ID)))
        # Zoom sends the address as the customer typed it; the comparison is on a keyed hash of it
        guest = await post_zoom(stack, zoom_body("meeting.participant_joined", meeting, start,
                                                 **participant("P-GUEST", start + timedelta(minutes=1),
                                                               email=email.upper())))
        assert host.status_code == guest.status_code == 200, (host.text, guest.text)
        assert guest.json()["events"] == []  # nothing decided mid-meeting
        assert (await stack.state(case_id)).stage.value == "watching"

        now = datetime.now(UTC).replace(microsecond=0)
        ended = await post_zoom(stack, zoom_body("meeting.ended", meeting, start, end_time=iso(now)))
        assert ended.status_code == 200, ended.text
        [outcome] = ended.json()["events"]
        assert outcome["case_id"] == case_id and outcome["status"] == "accepted"

        final = await stack.reach(case_id, "attended")
        assert any("guest joined the meeting" in r and "zoom" in r for r in final.verdict_reasons), \
            final.verdict_reasons
        assert await stack.workflow_count() == 1  # Zoom started no case of its own
        # a re-delivery of the end (Zoom retries) changes nothing
        again = await post_zoom(stack, zoom_body("meeting.ended", meeting, start, end_time=iso(now)))
        assert again.status_code == 200
        assert stack.deps.outbox.messages(case_id) == []
    logs = capsys.readouterr()
    assert email not in logs.out + logs.err and email.upper() not in logs.out + logs.err


async def test_the_meeting_ending_without_the_customer_is_a_no_show(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    email = f"sam-{uuid.uuid4().hex[:8]}@example.com"
    meeting = str(86_000_000_000 + uuid.uuid4().int % 1_000_000_000)
    start, end = slot_around_now()
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, zoom_env()) as stack:
        case_id = await book_with_zoom(stack, meeting, email, start, end)
        await stack.reach(case_id, "watching")
        await post_zoom(stack, zoom_body("meeting.participant_joined", meeting, start,
                                         **participant("P-HOST", start, user_id=HOST_ID, zoom_id=HOST_ID)))
        # someone else with another address joined for a moment and left: not the customer, and too short to
        # count as attendance of anyone
        other = "colleague@clinic.example"
        await post_zoom(stack, zoom_body("meeting.participant_joined", meeting, start,
                                         **participant("P-OTHER", start + timedelta(minutes=2), email=other)))
        left = participant("P-OTHER", start + timedelta(minutes=2))
        left["participant"]["leave_time"] = iso(start + timedelta(minutes=3))
        await post_zoom(stack, zoom_body("meeting.participant_left", meeting, start, **left))
        ended = await post_zoom(stack, zoom_body("meeting.ended", meeting, start,
                                                 end_time=iso(datetime.now(UTC).replace(microsecond=0))))
        assert ended.status_code == 200 and ended.json()["events"][0]["case_id"] == case_id

        # an unidentified participant blocks an automated no-show: a human decides
        state = await stack.reach(case_id, "awaiting_review")
        assert any("someone (guest or host, unknown) joined" in r for r in state.verdict_reasons), state.verdict_reasons


async def test_the_host_alone_is_a_no_show_and_recovery_starts(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    email = f"lee-{uuid.uuid4().hex[:8]}@example.com"
    meeting = str(87_000_000_000 + uuid.uuid4().int % 1_000_000_000)
    start, end = slot_around_now()
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, zoom_env()) as stack:
        case_id = await book_with_zoom(stack, meeting, email, start, end)
        await stack.reach(case_id, "watching")
        await post_zoom(stack, zoom_body("meeting.participant_joined", meeting, start,
                                         **participant("P-HOST", start, user_id=HOST_ID, zoom_id=HOST_ID)))
        await post_zoom(stack, zoom_body("meeting.ended", meeting, start,
                                         end_time=iso(datetime.now(UTC).replace(microsecond=0))))
        state = await stack.reach(case_id, "recovering", "offering", "following")
        assert state.verdict == "no_show"
        assert any("the guest never joined the meeting" in r for r in state.verdict_reasons), state.verdict_reasons
        assert len(stack.deps.outbox.messages(case_id)) >= 1  # the first recovery message went out

        # Zoom events for a meeting no booking names start nothing (counted as ignored)
        stray = await post_zoom(stack, zoom_body("meeting.participant_joined", "99912345678", start,
                                                 **participant("P-X", start, email=email)))
        assert stray.status_code == 200 and [e["status"] for e in stray.json()["events"]] == ["ignored"]
        forged = await post_zoom(stack, zoom_body("meeting.ended", meeting, start), secret="not-the-secret")
        assert forged.status_code == 401
        assert await stack.workflow_count() == 1
