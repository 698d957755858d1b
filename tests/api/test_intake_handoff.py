"""The webhook hand-off: a verified delivery is written down before it is acknowledged, so it is accepted while
Temporal is unreachable and applied once it is back; a STOP in it takes effect before the ack; a copy of it is a
duplicate even while it waits; a full queue answers 503; a delivery that cannot be applied is kept for a person.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from connectors.standard_webhooks import sign
from domain import addresses
from tests.api.conftest import ADMIN, envelope
from tests.engine.conftest import settings_for
from tests.fuzz.test_provider_webhooks import PROVIDER_ENV, ProviderApi, signed_headers
from tests.helpers import distinct_phone, fast_policy
from workers.api.app import create_app
from workers.api.deps import AppState
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.intake.handoff import GroupCommit
from workers.settings import ApiSettings
from workers.worker import build_worker


async def _black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()
    writer.close()


@dataclass
class Outage:
    """An API whose Temporal frontend accepts connections and never answers, beside the real dev server."""

    app: FastAPI
    http: httpx.AsyncClient
    deps: Dependencies
    real: Client
    task_queue: str
    signer: ProviderApi

    @property
    def state(self) -> AppState:
        return self.app.state.noshow  # type: ignore[no-any-return]

    async def post_event(self, payload: dict[str, object], msg_id: str | None = None) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = signed_headers(self.signer, "events", body)
        if msg_id is not None:  # a re-delivery: the same webhook id, signed again
            ts = int(time.time())
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                       "webhook-signature": sign(self.signer.events_secret, msg_id, ts, body)}
        headers["content-type"] = "application/json"
        return await self.http.post("/webhooks/events", content=body, headers=headers)

    async def post_sms(self, sender: str, text: str, sid: str) -> httpx.Response:
        body = urlencode([("AccountSid", "AC" + "1" * 32), ("Body", text), ("From", sender), ("MessageSid", sid),
                          ("To", "+15551230000")]).encode()
        headers = {**signed_headers(self.signer, "twilio", body), "content-type": "application/x-www-form-urlencoded"}
        return await self.http.post("/webhooks/twilio", content=body, headers=headers)

    async def temporal_returns(self) -> CaseService:
        """Point the API at the real server (as a reconnect would) with a worker behind it."""
        self.state.client = self.real
        self.app.state.temporal_gate.mark_down()
        self.app.state.temporal_gate._checked_at = -1e9  # the next request probes again
        return CaseService(self.real, self.deps)


@asynccontextmanager
async def outage_stack(client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       env: dict[str, str], max_pending: int) -> AsyncIterator[Outage]:
    """The API over a Temporal frontend that never answers, with an intake queue of `max_pending`, beside a worker
    on the real server that applies what the queue hands over."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hole = await asyncio.start_server(_black_hole, "127.0.0.1", 0)
    down = await Client.connect(f"127.0.0.1:{hole.sockets[0].getsockname()[1]}", lazy=True)
    settings = settings_for(tmp_path, task_queue, fast_policy())
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={"intake_max_pending": max_pending})})
    deps = build_dependencies(settings)
    app = create_app(settings, client=down, deps=deps)
    worker = build_worker(client, deps, task_queue=task_queue)
    running = asyncio.create_task(worker.run())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://test") as http:
        signer = ProviderApi(http, settings.api.public_base_url.rstrip("/"),
                             settings.auth.webhook_secret.get_secret_value(), [])
        yield Outage(app, http, deps, client, task_queue, signer)
        await app.state.noshow.handoff.wait_idle()
    await worker.shutdown()
    await asyncio.gather(running, return_exceptions=True)
    hole.close()


@pytest_asyncio.fixture
async def outage(client: Client, task_queue: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Outage]:
    async with outage_stack(client, task_queue, tmp_path, monkeypatch, PROVIDER_ENV, max_pending=4) as stack:
        yield stack


async def intake(outage: Outage) -> dict[str, object]:
    r = await outage.http.get("/ops/intake", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_webhook_is_accepted_while_temporal_is_down_and_applied_when_it_returns(outage: Outage) -> None:
    payload = envelope()
    msg_id = f"msg_{uuid.uuid4().hex}"
    r = await outage.post_event(payload, msg_id=msg_id)
    assert r.status_code == 202, r.text
    assert r.json()["queued"] is True and r.json()["intake_id"] and r.json()["events"] == []
    again = await outage.post_event(payload, msg_id=msg_id)  # the provider's retry, while the first still waits
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    waiting = await intake(outage)
    assert waiting["pending"] == 1 and waiting["oldest_pending_seconds"] is not None

    cases = await outage.temporal_returns()
    assert await outage.state.handoff.drain_once(cases) == 1
    appt = payload["data"]["appointment"]  # type: ignore[index]
    case_id = cases.case_id(appt["source"], appt["appointment_id"])
    described = await outage.real.get_workflow_handle(case_id).describe()
    assert described.status is not None and described.status.name == "RUNNING"
    after = await intake(outage)
    assert after["pending"] == 0 and after["done_last_hour"] == 1
    assert await outage.state.handoff.drain_once(cases) == 0  # applied once


async def test_a_stop_takes_effect_before_the_ack_and_is_confirmed_once_after(outage: Outage) -> None:
    phone = distinct_phone("+12125550100")
    sid = "SM" + uuid.uuid4().hex
    r = await outage.post_sms(phone, "STOP", sid)
    assert r.status_code == 200 and r.text.startswith("<"), r.text  # Twilio is answered the TwiML it expects
    assert (await intake(outage))["pending"] == 1
    akey = addresses.address_key(addresses.normalise_phone(phone), outage.deps.settings.auth.id_salt)
    # no case may write to the address from now on, though nothing has been routed yet
    assert outage.deps.consent.is_blocked(akey, "sms")
    assert outage.deps.outbox.messages_by_id(f"consent-{sid}") == []

    cases = await outage.temporal_returns()
    assert await outage.state.handoff.drain_once(cases) == 1
    confirmations = outage.deps.outbox.messages_by_id(f"consent-{sid}")
    assert len(confirmations) == 1, confirmations
    again = await outage.post_sms(phone, "STOP", sid)
    assert again.status_code == 200 and (await intake(outage))["pending"] == 0
    assert len(outage.deps.outbox.messages_by_id(f"consent-{sid}")) == 1


async def test_a_full_queue_answers_503_with_retry_after(outage: Outage) -> None:
    statuses = [(await outage.post_event(envelope())).status_code for _ in range(4)]
    assert statuses == [202] * 4
    full = await outage.post_event(envelope())
    assert full.status_code == 503 and full.headers["retry-after"].isdigit(), full.text
    assert (await intake(outage))["pending"] == 4  # the refused one was not written down


async def test_a_delivery_that_cannot_be_applied_is_kept_and_can_be_retried(outage: Outage) -> None:
    queue = outage.state.handoff.queue
    bad = queue.put("events", '{"result": {"events": [{"not": "an event"}]}}', datetime.now(UTC))
    assert bad is not None
    cases = await outage.temporal_returns()
    assert await outage.state.handoff.drain_once(cases) == 1
    seen = await intake(outage)
    assert seen["failed"] == 1 and seen["pending"] == 0
    assert [f["intake_id"] for f in seen["retrying"]] == [bad]  # type: ignore[index, union-attr]
    assert "Error" in str(seen["retrying"][0]["last_error"])  # type: ignore[index]
    retried = await outage.http.post(f"/ops/intake/{bad}/retry", headers=ADMIN)
    assert retried.status_code == 200 and (await intake(outage))["pending"] == 1
    missing = await outage.http.post("/ops/intake/nope/retry", headers=ADMIN)
    assert missing.status_code == 404


async def test_the_intake_page_is_for_admins_only(outage: Outage) -> None:
    assert (await outage.http.get("/ops/intake")).status_code == 401
    reviewer = {"Authorization": "Bearer dev-reviewer-token"}
    assert (await outage.http.get("/ops/intake", headers=reviewer)).status_code == 403


async def test_a_burst_past_the_inline_limit_is_queued_and_every_case_starts_once(
        client: Client, task_queue: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, task_queue, fast_policy())
    settings = settings.model_copy(update={"api": ApiSettings(ack_seconds=0.05, intake_inline=2)})
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    running = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            signer = ProviderApi(http, settings.api.public_base_url.rstrip("/"),
                                 settings.auth.webhook_secret.get_secret_value(), [])
            outage = Outage(app, http, deps, client, task_queue, signer)
            payloads = [envelope() for _ in range(24)]
            answers = await asyncio.gather(*(outage.post_event(p) for p in payloads))
            assert {a.status_code for a in answers} <= {200, 202}
            assert any(a.status_code == 202 for a in answers), "24 at once past an inline limit of 2"
            handoff = outage.state.handoff
            await handoff.wait_idle()
            cases = CaseService(client, deps)
            for _ in range(20):
                if not await handoff.drain_once(cases) and handoff.queue.pending() == 0:
                    break
            assert handoff.queue.pending() == 0
            for p in payloads:
                appt = p["data"]["appointment"]  # type: ignore[index]
                described = await client.get_workflow_handle(cases.case_id(appt["source"],
                                                                           appt["appointment_id"])).describe()
                assert described.status is not None
            stats = handoff.queue.stats(datetime.now(UTC))
            assert stats.done_last_hour == len(payloads) and stats.failed == 0
    finally:
        await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)


async def test_writes_arriving_together_share_a_commit_and_each_caller_gets_its_own_answer() -> None:
    batches: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        batches.append(list(items))
        if 13 in items:
            raise RuntimeError("the store refused the batch")
        return [i * 2 for i in items]

    commit = GroupCommit[int, int](run)
    first = await asyncio.gather(*(commit(i) for i in range(12)))
    assert first == [i * 2 for i in range(12)] and len(batches) < 12
    failed = await asyncio.gather(commit(13), commit(14), return_exceptions=True)
    assert all(isinstance(f, RuntimeError) for f in failed)  # a batch fails for every caller in it
    assert await commit(15) == 30  # and the next one runs


async def test_a_sender_may_ask_to_wait_for_the_effects(client: Client, task_queue: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, task_queue, fast_policy())
    # an ack deadline no delivery can meet: only `Prefer: wait` brings the effects back in the answer
    settings = settings.model_copy(update={"api": ApiSettings(ack_seconds=0.001)})
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    running = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            signer = ProviderApi(http, settings.api.public_base_url.rstrip("/"),
                                 settings.auth.webhook_secret.get_secret_value(), [])
            body = json.dumps(envelope()).encode()
            headers = {**signed_headers(signer, "events", body), "content-type": "application/json",
                       "prefer": "respond-async, wait=20"}
            r = await http.post("/webhooks/events", content=body, headers=headers)
            assert r.status_code == 200 and r.headers["preference-applied"] == "wait=20", r.text
            assert r.json()["events"][0]["status"] == "accepted" and r.json()["events"][0]["case_id"]
            body = json.dumps(envelope()).encode()
            headers = {**signed_headers(signer, "events", body), "content-type": "application/json"}
            quick = await http.post("/webhooks/events", content=body, headers=headers)
            assert quick.status_code == 202 and "preference-applied" not in quick.headers
            await app.state.noshow.handoff.wait_idle()
    finally:
        await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)
