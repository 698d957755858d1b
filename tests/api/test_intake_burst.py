"""Under a burst the acknowledgement only writes the hand-off and answers 202: while other acknowledgements are on
their way, or a backlog waits, a delivery is not applied before its answer; the drainer applies it once, later.
A calm API still answers with the delivery's effects."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from connectors.contract import WebhookResult
from connectors.local.intake_queue import IntakeQueue
from domain.models import AppointmentEvent
from tests.api.conftest import envelope
from tests.engine.conftest import settings_for
from tests.fuzz.test_provider_webhooks import PROVIDER_ENV, ProviderApi, signed_headers
from tests.helpers import fast_policy
from workers.api.app import create_app
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.intake.handoff import ACKS_AHEAD_INLINE, BACKLOG_INLINE, Handoff, QueuedDelivery
from workers.settings import Settings
from workers.worker import build_worker


@dataclass
class Api:
    http: httpx.AsyncClient
    handoff: Handoff
    cases: CaseService
    client: Client
    signer: ProviderApi

    async def post(self, payload: dict[str, object]) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {**signed_headers(self.signer, "events", body), "content-type": "application/json"}
        return await self.http.post("/webhooks/events", content=body, headers=headers)

    async def started(self, payload: dict[str, object]) -> bool:
        appt = payload["data"]["appointment"]  # type: ignore[index]
        handle = self.client.get_workflow_handle(self.cases.case_id(appt["source"], appt["appointment_id"]))
        try:
            await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def drain(self) -> int:
        taken = 0
        for _ in range(20):
            round_ = await self.handoff.drain_once(self.cases)
            taken += round_
            if not round_ and self.handoff.queue.pending() == 0:
                break
        return taken


@dataclass
class World:
    client: Client
    settings: Settings
    deps: Dependencies

    @contextlib.asynccontextmanager
    async def api(self) -> AsyncIterator[Api]:
        """An API process over this world's store (a fresh one counts the waiting rows on its first delivery)."""
        app = create_app(self.settings, client=self.client, deps=self.deps)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            signer = ProviderApi(http, self.settings.api.public_base_url.rstrip("/"),
                                 self.settings.auth.webhook_secret.get_secret_value(), [])
            handoff: Handoff = app.state.noshow.handoff
            yield Api(http, handoff, CaseService(self.client, self.deps), self.client, signer)
            await handoff.wait_idle()


@pytest_asyncio.fixture
async def world(client: Client, task_queue: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    for name, value in PROVIDER_ENV.items():
        monkeypatch.setenv(name, value)
    settings = settings_for(tmp_path, task_queue, fast_policy())  # a 30 s ack deadline: a calm ack applies
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    running = asyncio.create_task(worker.run())
    try:
        yield World(client, settings, deps)
    finally:
        await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_delivery_arriving_among_other_acks_is_written_down_answered_202_and_applied_once(
        world: World) -> None:
    async with world.api() as api:
        crowded = envelope()
        with contextlib.ExitStack() as others:  # acknowledgements on their way, as in a burst
            for _ in range(ACKS_AHEAD_INLINE + 1):
                others.enter_context(api.handoff.arrivals.arriving())
            r = await api.post(crowded)
        assert r.status_code == 202 and r.json()["queued"] is True and r.json()["intake_id"], r.text
        stats = api.handoff.queue.stats(datetime.now(UTC))
        assert stats.pending == 1 and stats.in_flight == 0  # durable, and nobody is applying it
        assert not await api.started(crowded)
        assert api.handoff.arrivals.waiting == 0  # every acknowledgement gave its place back

        calm = envelope()
        r = await api.post(calm)  # alone again: applied before the answer, as before
        assert r.status_code == 200, r.text
        assert r.json()["events"][0]["status"] == "accepted" and await api.started(calm)

        assert await api.drain() == 1
        assert await api.started(crowded)
        assert await api.handoff.drain_once(api.cases) == 0  # applied once
        stats = api.handoff.queue.stats(datetime.now(UTC))
        assert stats.pending == 0 and stats.failed == 0 and stats.done_last_hour == 2


async def test_a_lone_delivery_behind_a_backlog_waits_its_turn(world: World) -> None:
    waiting = [envelope() for _ in range(BACKLOG_INLINE + 1)]
    queue = IntakeQueue(world.deps.db)
    for payload in waiting:  # left by an earlier burst (or a replica that went away), not yet applied
        event = AppointmentEvent.model_validate(payload["data"])
        queue.put("events", QueuedDelivery(result=WebhookResult(events=[event])).model_dump_json(), datetime.now(UTC))
    async with world.api() as api:
        late = envelope()
        r = await api.post(late)
        assert r.status_code == 202 and r.json()["queued"] is True, r.text
        assert not await api.started(late)
        assert await api.drain() == len(waiting) + 1
        for payload in [*waiting, late]:
            assert await api.started(payload)
        assert await api.handoff.drain_once(api.cases) == 0
        stats = api.handoff.queue.stats(datetime.now(UTC))
        assert stats.pending == 0 and stats.failed == 0 and stats.done_last_hour == len(waiting) + 1
