"""The six measurements. Each takes the shared Ctx (one dev server, one data directory) and adds rows."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.client import Client, WorkflowHandle

from bench import actions, procs, workload
from bench.bare import BareWorkflow
from domain.models import EventType, Stage
from policies.schema import PolicyFile
from workers.settings import Settings
from workflows import search_attributes as sa
from workflows.case import LEAN_PATCH

T = TypeVar("T")
ADMIN = {"Authorization": "Bearer dev-admin-token"}  # the Settings default the API subprocess runs with


@dataclass
class Row:
    metric: str
    value: str
    target: str = ""
    status: str = ""  # "ok", "MISSED", "indicative" or ""


@dataclass
class Ctx:
    client: Client
    address: str
    tmp: Path
    procs: procs.Procs
    policy: PolicyFile
    policy_file: Path
    data_dir: Path
    secret: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sweep_handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    def row(self, metric: str, value: str, target: str = "", status: str = "") -> None:
        self.rows.append(Row(metric, value, target, status))
        print(f"  {metric}: {value}" + (f"   [target {target}: {status}]" if target else ""), flush=True)

    def env(self, task_queue: str) -> dict[str, str]:
        return procs.app_env(self.address, self.data_dir, self.policy_file, task_queue)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


async def run_pool(items: Iterable[T], concurrency: int, fn: Callable[[T], Awaitable[float]]) -> list[float]:
    """Run fn over items with `concurrency` in flight; fn returns its own latency."""
    queue = list(items)
    queue.reverse()
    out: list[float] = []

    async def lane() -> None:
        while queue:
            out.append(await fn(queue.pop()))

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return out


async def until(fn: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float, what: str,
                interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached within {timeout:.0f} s (last: {value!r})")
        await asyncio.sleep(interval)


async def stage_of(client: Client, case_id: str) -> str | None:
    desc = await client.get_workflow_handle(case_id).describe()
    return desc.typed_search_attributes.get(sa.STAGE)


# ---------------------------------------------------------------------------------------------- 1. ingest


async def ingest(ctx: Ctx, n: int, concurrency: int) -> None:
    """Signed webhooks through the API (a `python -m workers.api` subprocess: uvicorn on 127.0.0.1) versus
    raw signal-with-start of the same input from this process. No worker polls this queue, so both measure
    only the path to an acknowledged start."""
    queue = "bench-ingest"
    api, base = procs.start_api(ctx.procs, "api-ingest", ctx.env(queue))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     limits=httpx.Limits(max_connections=concurrency * 2)) as http:
            failures: Counter[str] = Counter()

            async def post(item: tuple[bytes, dict[str, str]]) -> float:
                body, headers = item
                t0 = time.perf_counter()
                r = await http.post("/webhooks/events", content=body, headers=headers)
                elapsed = time.perf_counter() - t0
                if r.status_code == 202 and r.json().get("queued"):
                    return elapsed  # written down: its start follows, and the half's clock waits for it
                if r.status_code != 200 or r.json()["events"][0]["status"] != "accepted":
                    failures[f"api {r.status_code}"] += 1
                return elapsed

            async def drained() -> None:
                """Until the API's hand-off queue is empty: every accepted delivery has started its case."""
                while True:
                    r = await http.get("/ops/intake", headers={"Authorization": "Bearer dev-admin-token"})
                    if r.json()["pending"] == 0:
                        return
                    await asyncio.sleep(0.05)

            async def raw(item: tuple[Any, Any]) -> float:
                inp, ev = item
                t0 = time.perf_counter()
                await workload.start_raw(ctx.client, queue, inp, ev)
                return time.perf_counter() - t0

            def api_items(k: int) -> list[tuple[bytes, dict[str, str]]]:
                return [workload.signed_webhook(ctx.secret, workload.event(workload.future_appointment(),
                                                                           EventType.booked)) for _ in range(k)]

            def raw_items(k: int) -> list[tuple[Any, Any]]:
                out = []
                for _ in range(k):
                    ev = workload.event(workload.future_appointment(), EventType.booked)
                    inp, _ = workload.case_start(ctx.policy, ev)
                    out.append((inp, ev))
                return out

            await run_pool(api_items(20), concurrency, post)  # warm-up: connections, imports, caches
            await run_pool(raw_items(20), concurrency, raw)
            failures.clear()
            api_lat: list[float] = []
            raw_lat: list[float] = []
            api_time = raw_time = 0.0
            # alternate halves so neither path always runs on the emptier database
            for half in (n // 2, n - n // 2):
                items = api_items(half)
                t0 = time.perf_counter()
                api_lat += await run_pool(items, concurrency, post)
                await drained()  # the rate is of cases started, not of acknowledgements
                api_time += time.perf_counter() - t0
                starts = raw_items(half)
                t0 = time.perf_counter()
                raw_lat += await run_pool(starts, concurrency, raw)
                raw_time += time.perf_counter() - t0
    finally:
        ctx.procs.stop(api)
    api_rate, raw_rate = n / api_time, n / raw_time
    ratio = api_rate / raw_rate
    ctx.row(f"1. ingest: signed webhooks via API ({n}, {concurrency} in flight)", f"{api_rate:.1f} /s")
    ctx.row("1. ingest: API ack latency p50 / p99",
            f"{pct(api_lat, .5) * 1000:.0f} / {pct(api_lat, .99) * 1000:.0f} ms")
    ctx.row("1. ingest: raw start_workflow (signal-with-start)", f"{raw_rate:.1f} /s")
    ctx.row("1. ingest: raw start latency p50 / p99",
            f"{pct(raw_lat, .5) * 1000:.0f} / {pct(raw_lat, .99) * 1000:.0f} ms")
    ctx.row("1. ingest: ratio API / raw", f"{ratio:.2f}", ">= 0.9", verdict(ratio >= 0.9))
    if failures:
        ctx.row("1. ingest: failed requests", ", ".join(f"{k}: {v}" for k, v in failures.items()))


# ------------------------------------------------------------------------------------- 2. first message


def first_message_at(db: Path, case_id: str) -> datetime | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute("SELECT created_at FROM outbox WHERE case_id = ? ORDER BY created_at LIMIT 1",
                           (case_id,)).fetchone()
    except sqlite3.OperationalError:  # table not created yet, or a writer holds it for a moment
        return None
    finally:
        conn.close()
    return datetime.fromisoformat(row[0]) if row else None


async def post_event(http: httpx.AsyncClient, secret: str, ev: Any) -> str:
    body, headers = workload.signed_webhook(secret, ev)
    r = await http.post("/webhooks/events", content=body, headers=headers)
    r.raise_for_status()
    outcome = r.json()["events"][0]
    if outcome["status"] != "accepted":
        raise RuntimeError(f"event not accepted: {outcome}")
    return str(outcome["case_id"])


async def wait_first_message(ctx: Ctx, case_id: str, timeout: float = 60) -> tuple[datetime, float]:
    db = ctx.data_dir / "local.db"
    deadline = time.monotonic() + timeout
    while True:
        at = first_message_at(db, case_id)
        if at is not None:
            return at, time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"no first message for {case_id} within {timeout:.0f} s")
        await asyncio.sleep(0.005)


async def first_message(ctx: Ctx, http: httpx.AsyncClient, n: int) -> None:
    """One no-show at a time on an otherwise idle stack: webhook sent -> outbox row (the message handed to
    the local provider). The row's created_at is the send activity's scheduled time on the server clock."""
    for _ in range(2):  # warm-up: the first workflow of a worker imports the sandbox
        case_id = await post_event(http, ctx.secret, workload.event(workload.appointment(), EventType.no_show))
        await wait_first_message(ctx, case_id)
    by_row: list[float] = []
    by_seen: list[float] = []
    for _ in range(n):
        ev = workload.event(workload.appointment(), EventType.no_show)
        sent = time.time()
        case_id = await post_event(http, ctx.secret, ev)
        at, seen = await wait_first_message(ctx, case_id)
        by_row.append(at.timestamp() - sent)
        by_seen.append(seen - sent)
        await asyncio.sleep(0.5)  # spacing, so each case meets an idle stack
    p95 = pct(by_row, .95)
    ctx.row(f"2. no-show -> first message, idle ({n} cases) p50 / p95",
            f"{pct(by_row, .5) * 1000:.0f} / {p95 * 1000:.0f} ms", "p95 < 1000 ms", verdict(p95 < 1.0))
    ctx.row("2. same, until the row was seen by polling (upper bound) p50 / p95",
            f"{pct(by_seen, .5) * 1000:.0f} / {pct(by_seen, .95) * 1000:.0f} ms")
    ctx.notes.append("first message: outbox created_at is the send activity's scheduled time (server clock); "
                     "the polled figure bounds the moment the row was written (5 ms polling)")


# ------------------------------------------------------------------------------------------- 4. outcomes


async def reply(http: httpx.AsyncClient, case_id: str, text: str) -> None:
    r = await http.post("/inbound/local", json={"case_id": case_id, "text": text}, headers=ADMIN)
    r.raise_for_status()


async def closed_stage(ctx: Ctx, case_id: str, timeout: float = 120) -> str:
    state = await asyncio.wait_for(ctx.client.get_workflow_handle(case_id).result(), timeout=timeout)
    return str(state["stage"] if isinstance(state, dict) else state.stage)


async def recovered(ctx: Ctx, http: httpx.AsyncClient) -> str:
    # a calendar of its own: the k cases reply in the same instant, and concurrent offers on one calendar race for
    # the same earliest candidates (offer_slots looks at offer_count x 4 of them), so one would find none
    calendar = f"cal-recovered-{uuid.uuid4().hex[:8]}"
    case_id = await post_event(http, ctx.secret, workload.event(workload.appointment(calendar_id=calendar),
                                                                EventType.no_show))
    await wait_first_message(ctx, case_id)
    await until(lambda: stage_of(ctx.client, case_id), lambda s: s == Stage.recovering.value, 60, "recovering")
    await reply(http, case_id, "yes please, can we find another time?")
    await until(lambda: stage_of(ctx.client, case_id), lambda s: s == Stage.offering.value, 60, "offering")
    await reply(http, case_id, "2")
    return case_id


async def opted_out(ctx: Ctx, http: httpx.AsyncClient) -> str:
    case_id = await post_event(http, ctx.secret, workload.event(workload.appointment(), EventType.no_show))
    await wait_first_message(ctx, case_id)
    await reply(http, case_id, "STOP")
    return case_id


async def attended(ctx: Ctx, http: httpx.AsyncClient) -> str:
    # booked while the appointment is under way: the case watches until it ends, then the front desk reports
    appt = workload.appointment(start=datetime.now(UTC) - timedelta(minutes=1), minutes=30)
    case_id = await post_event(http, ctx.secret, workload.event(appt, EventType.booked))
    await until(lambda: stage_of(ctx.client, case_id), lambda s: s == Stage.watching.value, 60, "watching")
    await post_event(http, ctx.secret, workload.event(appt, EventType.attended))
    return case_id


async def shaped(ctx: Ctx, http: httpx.AsyncClient) -> str:
    appt = workload.appointment(workload.SHAPED_TYPE)
    return await post_event(http, ctx.secret, workload.event(appt, EventType.no_show))


async def count_runs(client: Client, case_ids: list[str]) -> list[actions.RunCount]:
    return [actions.count(await client.get_workflow_handle(c).fetch_history()) for c in case_ids]


def report_counts(ctx: Ctx, label: str, expected: str, stages: list[str], counts: list[actions.RunCount],
                  target: float | None = None) -> None:
    wrong = [s for s in stages if s != expected]
    acts = [c.actions for c in counts]
    events = [c.events for c in counts]
    parts = counts[0].parts
    breakdown = ", ".join(f"{k} {v}" for k, v in sorted(parts.items()) if v)
    if counts[0].patches:
        breakdown += f"; + {counts[0].patches} version marker, not billed"
    value = (f"{statistics.median(events):.0f} events, {statistics.median(acts):.0f} actions "
             f"(min {min(acts)}, max {max(acts)}; {len(counts)} cases; {breakdown})")
    if wrong:
        value += f"; WARNING: {len(wrong)} ended as {sorted(set(wrong))}"
    if target is None:
        ctx.row(f"4. per case, {label}", value)
    else:
        ctx.row(f"4. per case, {label}", value, f"<= {target:.0f} actions",
                verdict(statistics.median(acts) <= target))
    names = ", ".join(f"{k} {v}" for k, v in sorted(counts[0].activities.items()))
    ctx.notes.append(f"{label}: activities {names}")


async def outcomes(ctx: Ctx, http: httpx.AsyncClient, k: int, with_shaped: bool) -> list[str]:
    """Cases driven to each outcome through the API; returns the shaped case ids still running."""
    shaped_ids = [await shaped(ctx, http) for _ in range(k)] if with_shaped else []
    for label, expected, scenario, target in (
        ("recovered via replies (no follow-up of the new booking)", Stage.confirmed.value, recovered, 15.0),
        ("opted out", Stage.opted_out.value, opted_out, None),
        ("attended", Stage.attended.value, attended, None),
    ):
        ids = await asyncio.gather(*(scenario(ctx, http) for _ in range(k)))
        stages = await asyncio.gather(*(closed_stage(ctx, c) for c in ids))
        report_counts(ctx, label, expected, list(stages), await count_runs(ctx.client, list(ids)), target)
    ctx.notes.append("recovered: with follow_new_appointment (the shipped default) a case adds 4 actions, read "
                     "from workflows/case.py, not measured: an upsert for `following`, its timer, gather_evidence, "
                     "and a record_ledger at the close (no activity is left to carry the closing ledger events)")
    return shaped_ids


# ----------------------------------------------------------------------------------------- 3. throughput


async def throughput(ctx: Ctx, queue: str, n: int, concurrency: int) -> tuple[int, float]:
    """N no-show cases that send the whole sequence at once and end unrecovered, started raw, all in flight.
    Returns the median number of activities a case ran (for the bare baseline) and cases per second."""
    starts = []
    for _ in range(n):
        ev = workload.event(workload.appointment(workload.SWEEP_TYPE), EventType.no_show)
        starts.append((workload.case_start(ctx.policy, ev)[0], ev))
    handles: list[WorkflowHandle[Any, Any]] = []

    async def start(item: tuple[Any, Any]) -> float:
        handles.append(await workload.start_raw(ctx.client, queue, item[0], item[1]))
        return 0.0

    t0 = time.perf_counter()
    await run_pool(starts, concurrency, start)
    results = await asyncio.gather(*(h.result() for h in handles))
    elapsed = time.perf_counter() - t0
    stages = [str(r.stage) for r in results]
    ctx.sweep_handles = handles
    rate = n / elapsed
    counts = await count_runs(ctx.client, [h.id for h in handles[:5]])
    activities = int(statistics.median(c.parts["activity"] for c in counts))
    ctx.row(f"3. full cases to a terminal stage ({n}, zero delays, unrecovered)",
            f"{rate:.2f} cases/s ({elapsed:.1f} s; {activities} activities each)")
    report_counts(ctx, "unrecovered (zero-delay sequence)", Stage.unrecovered.value, stages, counts)
    ctx.notes.append(f"throughput cases ended as {dict(Counter(stages))}")
    return activities, rate


async def bare(ctx: Ctx, n: int, activities: int, concurrency: int, case_rate: float) -> None:
    queue = "bench-bare"
    worker = procs.start_bare_worker(ctx.procs, ctx.address, queue)
    try:
        await procs.wait_for_poller(ctx.client, queue, worker)
        warm = await ctx.client.start_workflow(BareWorkflow.run, activities, id="bare-warmup", task_queue=queue)
        await warm.result()
        handles: list[WorkflowHandle[Any, Any]] = []

        async def start(i: int) -> float:
            handles.append(await ctx.client.start_workflow(BareWorkflow.run, activities, id=f"bare-{i}",
                                                           task_queue=queue))
            return 0.0

        t0 = time.perf_counter()
        await run_pool(range(n), concurrency, start)
        await asyncio.gather(*(h.result() for h in handles))
        elapsed = time.perf_counter() - t0
    finally:
        ctx.procs.stop(worker)
    rate = n / elapsed
    ratio = case_rate / rate
    ctx.row(f"3. bare workflow, {activities} no-op activities ({n})", f"{rate:.2f} wf/s ({elapsed:.1f} s)")
    ctx.row("3. ratio case / bare throughput", f"{ratio:.2f}", ">= 0.8", verdict(ratio >= 0.8))


# ------------------------------------------------------------------------------------------- 5. memory


async def memory(ctx: Ctx, n: int, concurrency: int) -> None:
    """A fresh `python -m workers.worker` subprocess; N cases booked 30 days ahead, all waiting in `watching`."""
    queue = "bench-waiting"
    worker = procs.start_worker(ctx.procs, "worker-waiting", ctx.env(queue))
    try:
        await procs.wait_for_poller(ctx.client, queue, worker)
        base = procs.memory_kb(worker.pid)
        done = 0

        async def start(item: tuple[Any, Any]) -> float:
            nonlocal done
            await workload.start_raw(ctx.client, queue, item[0], item[1])
            done += 1
            if done % 1000 == 0:
                print(f"    started {done}/{n}", flush=True)
            return 0.0

        t0 = time.perf_counter()
        batch = 1000  # build inputs in batches so the generator's own memory stays small
        for offset in range(0, n, batch):
            items = []
            for _ in range(min(batch, n - offset)):
                ev = workload.event(workload.future_appointment(), EventType.booked)
                items.append((workload.case_start(ctx.policy, ev)[0], ev))
            await run_pool(items, concurrency, start)
        # the attributes come with the start, so NoShowStage says nothing about the worker; the SDK writes
        # TemporalChangeVersion in the case's first workflow task, once its timer is set: the case is waiting
        query = (f"TaskQueue = '{queue}' AND NoShowStage = '{Stage.watching.value}' "
                 f"AND TemporalChangeVersion = '{LEAN_PATCH}'")

        async def waiting() -> int:
            return (await ctx.client.count_workflows(query)).count

        await until(waiting, lambda c: c >= n, timeout=n / 5 + 180, what=f"{n} cases watching", interval=1.0)
        settled = time.perf_counter() - t0
        mem = procs.memory_kb(worker.pid)
    finally:
        ctx.procs.stop(worker)
    rss = mem["VmRSS"] / 1024
    scaled = n < 10_000
    ctx.row(f"5. worker RSS, {n} cases waiting on timers (cache {Settings().temporal.max_cached_workflows})",
            f"{rss:.0f} MB (peak {mem['VmHWM'] / 1024:.0f} MB; {base['VmRSS'] / 1024:.0f} MB idle before; "
            f"all waiting after {settled:.0f} s)",
            "<= 300 MB at 10,000", "indicative" if scaled and rss <= 300 else verdict(rss <= 300))


# ---------------------------------------------------------------------------------------------- 6. suite


def suite() -> Row:
    pytest = Path(sys.executable).parent / "pytest"
    t0 = time.perf_counter()
    done = subprocess.run([str(pytest), "-q", "-p", "no:cacheprovider"], cwd=procs.REPO, env=procs.base_env(),
                          capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else f"exit {done.returncode}"
    return Row("6. test suite (.venv/bin/pytest -q)", f"{elapsed:.0f} s ({summary.strip('= ')})")
