"""With Temporal hanging (a frontend that accepts connections and never answers) or gone, the routes that need it
answer 503 with Retry-After within about a second, `/ready` says so, and `/health` (liveness) is untouched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from tests.api.conftest import ADMIN
from tests.engine.conftest import settings_for
from tests.helpers import fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.settings import ApiSettings

# the gate gives up after its wait (1 s by default); gRPC's own deadlines are far longer, so an answer within this
# bound comes from the gate, with room for a loaded machine running two test processes
GATE_BOUND = ApiSettings().temporal_wait_seconds + 3.0


async def _black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # accept, read, never answer
    writer.close()


@pytest_asyncio.fixture(params=["hanging", "refused"])
async def http(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    hole = await asyncio.start_server(_black_hole, "127.0.0.1", 0)
    port = hole.sockets[0].getsockname()[1]
    if request.param == "refused":
        hole.close()
        await hole.wait_closed()
    client = await Client.connect(f"127.0.0.1:{port}", lazy=True)
    settings = settings_for(tmp_path, "temporal-down", fast_policy())
    app = create_app(settings, client=client, deps=build_dependencies(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://test") as http:
        yield http
    hole.close()


async def timed(call: asyncio.Future[httpx.Response] | object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call  # type: ignore[misc]
    return response, time.monotonic() - started


async def test_routes_that_need_temporal_answer_503_fast(http: httpx.AsyncClient) -> None:
    calls = [http.get("/cases/case-x", headers=ADMIN),
             http.post("/reviews/case-x/decision", headers=ADMIN, json={"decision": "approve"}),
             http.post("/inbound/local", headers=ADMIN, json={"case_id": "case-x", "text": "hi"})]
    for call in calls:
        response, took = await timed(call)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert took < GATE_BOUND, took


async def test_a_burst_during_an_outage_is_refused_at_once(http: httpx.AsyncClient) -> None:
    started = time.monotonic()
    responses = await asyncio.gather(*(http.get("/cases/case-x", headers=ADMIN) for _ in range(50)))
    assert {r.status_code for r in responses} == {503}
    assert time.monotonic() - started < GATE_BOUND + 2.0


async def test_ready_reports_temporal_down_and_health_stays_live(http: httpx.AsyncClient) -> None:
    ready, took = await timed(http.get("/ready"))
    assert ready.status_code == 503 and ready.json()["temporal"] is False and ready.json()["store"] is True
    assert "retry-after" in ready.headers and took < GATE_BOUND
    health, took = await timed(http.get("/health"))
    # liveness never waits for a probe of Temporal: well under the gate's own wait
    assert health.status_code == 200 and took < ApiSettings().temporal_wait_seconds * 0.9
