"""Shared by the API tests: an in-process app (ASGI) on a real Temporal dev server with a real worker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest_asyncio
from temporalio.client import Client

from connectors.standard_webhooks import sign
from domain.models import EventType
from tests.engine.conftest import Stack, settings_for
from tests.helpers import appointment, event, fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker

ADMIN = {"Authorization": "Bearer dev-admin-token"}
REVIEWER = {"Authorization": "Bearer dev-reviewer-token"}


class Api:
    def __init__(self, http: httpx.AsyncClient, stack: Stack, secret: str) -> None:
        self.http = http
        self.stack = stack
        self.secret = secret

    def signed(self, payload: dict[str, object], msg_id: str | None = None, ts: int | None = None,
               secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode()
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        ts = ts or int(time.time())
        return body, {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                      "webhook-signature": sign(secret or self.secret, msg_id, ts, body)}

    async def post_event(self, payload: dict[str, object], **kw: object) -> httpx.Response:
        body, headers = self.signed(payload, **kw)  # type: ignore[arg-type]
        return await self.http.post("/webhooks/events", content=body, headers=headers)


def envelope(type_: EventType = EventType.no_show, **appt_kw: object) -> dict[str, object]:
    appt = appointment(**appt_kw)  # type: ignore[arg-type]
    ev = event(appt, type_)
    return {"type": type_.value, "timestamp": datetime.now(UTC).isoformat(), "data": ev.model_dump(mode="json")}


@pytest_asyncio.fixture
async def api(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path, task_queue, fast_policy())
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    task = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        stack = Stack(client, deps, CaseService(client, deps), worker, settings.policy.file)  # type: ignore[arg-type]
        yield Api(http, stack, settings.auth.webhook_secret.get_secret_value())
    await worker.shutdown()
    await asyncio.gather(task, return_exceptions=True)
