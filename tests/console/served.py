"""The API and a worker on a real Temporal server, the API listening on a free loopback port (uvicorn in the
test's event loop, so it shares the Temporal client): for the CLI and the browser, which talk to it over HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from temporalio.client import Client

from policies.schema import PolicyFile
from tests.engine.conftest import Stack, settings_for
from tests.helpers import fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.settings import ApiSettings, Settings
from workers.worker import build_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    port: int
    settings: Settings
    stack: Stack


@asynccontextmanager
async def served_api(client: Client, task_queue: str, tmp: Path, policy: PolicyFile | None = None
                     ) -> AsyncIterator[Served]:
    port = free_port()
    settings = settings_for(tmp, task_queue, policy or fast_policy())
    settings = settings.model_copy(update={"api": ApiSettings(port=port)})
    deps = build_dependencies(settings)
    worker = build_worker(client, deps, task_queue=task_queue)
    worker_task = asyncio.create_task(worker.run())
    app = create_app(settings, client=client, deps=deps)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    server_task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        stack = Stack(client, deps, CaseService(client, deps), worker, settings.policy.file)  # type: ignore[arg-type]
        yield Served(f"http://127.0.0.1:{port}", port, settings, stack)
    finally:
        server.should_exit = True
        await asyncio.gather(server_task, return_exceptions=True)
        await worker.shutdown()
        await asyncio.gather(worker_task, return_exceptions=True)
