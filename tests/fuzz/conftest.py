"""The API in-process (ASGI) against the session's real Temporal dev server and a real worker, for fuzzing.
One stack serves a whole module (`fuzz_api` gives each test its own response log); a test marked `own_stack` gets
a fresh one.

Hypothesis examples run in the session event loop one at a time (pytest-asyncio drives `@given` coroutines), so
the worker task shares the loop with the requests and nothing crosses threads.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings
from temporalio.client import Client

from connectors.standard_webhooks import sign
from tests.engine.conftest import settings_for
from tests.helpers import fast_policy, unique_task_queue
from workers.api.app import create_app
from workers.dependencies import Dependencies, build_dependencies
from workers.worker import build_worker

# NOSHOW_FUZZ_EXAMPLES=2000 for a heavier (and randomised) run; the default keeps the module under a minute
HEAVY = os.environ.get("NOSHOW_FUZZ_EXAMPLES")


def examples(default: int) -> int:
    return int(HEAVY) if HEAVY else default


def fuzz_settings(default_examples: int) -> settings:
    """Derandomised by default so CI sees the same examples every run; a heavy run explores new ones."""
    return settings(
        max_examples=examples(default_examples),
        deadline=None,
        derandomize=not HEAVY,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


@dataclass
class FuzzApi:
    http: httpx.AsyncClient
    client: Client
    deps: Dependencies
    secret: str
    task_queue: str
    max_body: int
    responses: list[httpx.Response] = field(default_factory=list)

    def signed_headers(self, body: bytes, content_type: str | None = "application/json",
                       msg_id: str | None = None, ts: int | None = None) -> dict[str, str]:
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        ts = int(time.time()) if ts is None else ts
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                   "webhook-signature": sign(self.secret, msg_id, ts, body)}
        if content_type is not None:
            headers["content-type"] = content_type
        return headers

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response = await self.http.post(path, content=body, headers=headers)
        self.responses.append(response)
        return response

    async def workflows_started(self) -> int:
        return len([w async for w in self.client.list_workflows(f"TaskQueue = '{self.task_queue}'")])

    def accepted_events(self) -> list[object]:
        """Cases any response claims to have started or signalled (there must be none from invalid input)."""
        out: list[object] = []
        for r in self.responses:
            if r.status_code == 200 and r.headers.get("content-type", "").startswith("application/json"):
                body = r.json()
                if isinstance(body, dict):
                    out += [e for e in body.get("events", []) if e.get("status") == "accepted"]
        return out


def envelope(type_: str, data: object) -> bytes:
    return json.dumps({"type": type_, "timestamp": "2026-01-01T00:00:00Z", "data": data}).encode()


@asynccontextmanager
async def fuzz_stack(client: Client, task_queue: str, tmp: Path) -> AsyncIterator[FuzzApi]:
    settings_ = settings_for(tmp, task_queue, fast_policy())
    deps = build_dependencies(settings_)
    worker = build_worker(client, deps, task_queue=task_queue)
    task = asyncio.create_task(worker.run())
    app = create_app(settings_, client=client, deps=deps)
    # a crash must surface as the 500 a client would see, not as an exception inside the test
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield FuzzApi(http, client, deps, settings_.auth.webhook_secret.get_secret_value(), task_queue,
                          settings_.api.max_body_bytes)
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


@pytest_asyncio.fixture(scope="module")
async def module_fuzz_api(client: Client, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FuzzApi]:
    """One app and worker for the whole module: building them is most of a short test's time."""
    async with fuzz_stack(client, unique_task_queue(), tmp_path_factory.mktemp("fuzz")) as api:
        yield api


@pytest_asyncio.fixture
async def fresh_fuzz_api(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[FuzzApi]:
    async with fuzz_stack(client, task_queue, tmp_path) as api:
        yield api


@pytest.fixture
def fuzz_api(request: pytest.FixtureRequest) -> FuzzApi:
    """The module's stack with a response log of this test's own; a test marked `own_stack` (it counts every
    workflow on its task queue) gets a fresh stack instead."""
    if request.node.get_closest_marker("own_stack"):
        return cast(FuzzApi, request.getfixturevalue("fresh_fuzz_api"))
    return replace(cast(FuzzApi, request.getfixturevalue("module_fuzz_api")), responses=[])
