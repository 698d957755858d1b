"""Benchmarks of the engine against bare Temporal, all against ONE dev server this script starts and stops.

    .venv/bin/python bench/run.py            # the full run (2,000 webhooks, 500 cases, 10,000 waiting)
    .venv/bin/python bench/run.py --quick    # about 3 minutes (200 webhooks, 50 cases, 1,000 waiting)
    .venv/bin/python bench/run.py --cases 2000 --suite

Prints a table and appends it, with the machine's description, to bench/results.md. Run on purpose, never
from pytest. Everything binds to 127.0.0.1 and is stopped by its pid, also when a measurement fails.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import temporalio

from bench import actions, measure, procs, workload
from workers.dev.stack import temporal_binary
from workers.settings import PolicySettings, Settings, StorageSettings, TemporalSettings
from workers.temporal.client import connect

RESULTS = Path(__file__).resolve().parent / "results.md"

WHY = {
    "1.": "the policy is parsed once now (cached by content hash), so what is left is the API's own work per event "
          "before it acks (signature check, delivery log, contact upsert: short-lived SQLite connections) on one "
          "event loop, next to a signal-with-start that is the whole of the raw path; not profiled in this pass",
    "2.": "the first message waits on the workflow task, the evidence activity and the send activity, each a "
          "round trip through the SQLite dev server",
    "3.": "both are CPU-bound on 2 cores shared by server, worker and load generator. Per case the worker spends "
          "about 65 ms of CPU against 25 ms for a bare workflow: the activities do real work, and about a third "
          "of the worker's samples are connectors/local/db.py opening a SQLite connection per operation (outbox, "
          "consent, CRM, calendar, history) plus the ledger re-summarising the case on every append; the server "
          "spends about 72 ms against 53 ms (45 events against about 35: 2 stage upserts, a timer, a bigger "
          "start, and the version marker with the SDK's TemporalChangeVersion upsert)",
    "4.": "the shipped default also follows the new appointment: an upsert for `following`, its timer, "
          "gather_evidence and a closing record_ledger (about 19 actions)",
    "5.": "memory follows the workflow cache (500 cases), not the number of waiting cases: about 240 KB of RSS "
          "per cached case, on a worker of about 113 MB",
}
CLOSE = {
    "1.": "profile the API under load; move the SQLite calls off the event loop (run_in_threadpool) or after the "
          "ack, reuse connections; a second API process",
    "2.": "nothing needed: under the target",
    "3.": "keep one SQLite connection per worker thread in connectors/local/db.py instead of one per operation, "
          "and let the ledger summarise a case once per activity batch (done for the carried events) or on read; "
          "retire LEAN_PATCH (deprecate_patch, then remove the gate) once no case older than it is open, which "
          "drops the marker and its upsert (2 events a case)",
    "4.": "a CRM write of the kept/not-kept outcome at the end of the follow-up could carry the closing events "
          "(saves the record_ledger), or skip following for programs that do not need it",
    "5.": "nothing needed: under the target; lower max_cached_workflows to trade replay CPU for memory",
}


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")]
    mem_kb = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                   if ln.startswith("MemTotal")), 0)
    try:
        cli = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError, SystemExit):
        cli = "temporal CLI: unknown"
    return (f"{models[0] if models else platform.processor()} x {len(models)} CPUs, "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, temporalio {temporalio.__version__}, {cli}")


def table(rows: list[measure.Row]) -> str:
    lines = ["| measurement | value | target | status |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.metric} | {r.value} | {r.target} | {r.status} |")
    return "\n".join(lines)


def misses(rows: list[measure.Row]) -> list[str]:
    out = []
    for r in rows:
        if r.status == "MISSED":
            key = r.metric[:2]
            out.append(f"- MISSED {r.metric} ({r.value}; target {r.target}). Why: {WHY.get(key, '?')}. "
                       f"What would close it: {CLOSE.get(key, '?')}.")
    return out


async def run(args: argparse.Namespace, tmp: Path, ps: procs.Procs, rows_out: list[measure.Row],
              notes_out: list[str]) -> None:
    print("starting the Temporal dev server ...", flush=True)
    _, port = procs.start_dev_server(ps)
    address = f"127.0.0.1:{port}"
    data_dir = tmp / "data"
    data_dir.mkdir()
    policy = workload.bench_policy()
    policy_file = workload.write_policy(policy, tmp / "policy.yaml")
    settings = Settings(temporal=TemporalSettings(address=address), storage=StorageSettings(data_dir=data_dir),
                        policy=PolicySettings(file=policy_file))
    client = await connect(settings, wait_seconds=60)
    ctx = measure.Ctx(client=client, address=address, tmp=tmp, procs=ps, policy=policy, policy_file=policy_file,
                      data_dir=data_dir, secret=settings.auth.webhook_secret.get_secret_value().split(",")[0])
    ctx.rows, ctx.notes = rows_out, notes_out

    print(f"1. ingest: {args.webhooks} signed webhooks vs raw starts ...", flush=True)
    await measure.ingest(ctx, args.webhooks, args.concurrency)

    queue = "bench-cases"
    worker = procs.start_worker(ps, "worker-cases", ctx.env(queue))
    api, base = procs.start_api(ps, "api-cases", ctx.env(queue))
    await procs.wait_for_poller(client, queue, worker)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        print(f"2. first message, {args.latency} idle no-shows ...", flush=True)
        await measure.first_message(ctx, http, args.latency)
        print(f"4. outcomes, {args.per_outcome} cases each ...", flush=True)
        shaped_ids = await measure.outcomes(ctx, http, args.per_outcome, with_shaped=not args.quick)
    ps.stop(api)
    print(f"3. throughput: {args.throughput} full cases ...", flush=True)
    activities, case_rate = await measure.throughput(ctx, queue, args.throughput, args.concurrency * 2)
    if shaped_ids:
        print("4. waiting for the 1-minute-step cases ...", flush=True)
        stages = await asyncio.gather(*(measure.closed_stage(ctx, c, timeout=600) for c in shaped_ids))
        measure.report_counts(ctx, "unrecovered (shipped shape: a timer before each step)", "unrecovered",
                              list(stages), await measure.count_runs(client, shaped_ids))
    ps.stop(worker)
    print(f"3. bare baseline: {args.throughput} workflows of {activities} activities ...", flush=True)
    await measure.bare(ctx, args.throughput, activities, args.concurrency * 2, case_rate)
    print(f"5. memory: {args.cases} cases waiting on timers ...", flush=True)
    await measure.memory(ctx, args.cases, args.concurrency * 2)
    ctx.notes.append(f"action counting rule: {actions.RULE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small N: about 3 minutes")
    parser.add_argument("--cases", type=int, help="cases waiting on timers for the memory figure (10,000)")
    parser.add_argument("--webhooks", type=int, help="signed webhooks for the ingest figure (2,000)")
    parser.add_argument("--throughput", type=int, help="full cases for the throughput figure (500)")
    parser.add_argument("--latency", type=int, help="idle no-shows for the first-message figure (50)")
    parser.add_argument("--per-outcome", type=int, help="cases per outcome for history counts (5)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight for ingest (16)")
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    args = parser.parse_args()
    quick = {"cases": 1000, "webhooks": 200, "throughput": 50, "latency": 20, "per_outcome": 3}
    full = {"cases": 10_000, "webhooks": 2000, "throughput": 500, "latency": 50, "per_outcome": 5}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("cases", "webhooks", "throughput", "latency", "per_outcome", "concurrency"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    tmp = Path(tempfile.mkdtemp(prefix="noshow-bench-"))
    ps = procs.Procs(tmp)
    rows: list[measure.Row] = []
    notes: list[str] = []
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    error: str | None = None
    try:
        asyncio.run(run(args, tmp, ps, rows, notes))
    except Exception as exc:  # report what was measured so far, then the failure
        error = f"{type(exc).__name__}: {exc}"
    finally:
        ps.stop_all()
    if args.suite and error is None:
        print("6. test suite ...", flush=True)
        rows.append(measure.suite())
        print(f"  {rows[-1].metric}: {rows[-1].value}", flush=True)
    elapsed = time.perf_counter() - t0
    mode = "quick" if args.quick else "full"
    header = (f"## {started.isoformat(timespec='seconds')} ({mode}; {elapsed:.0f} s; webhooks {args.webhooks}, "
              f"cases {args.throughput}, waiting {args.cases})")
    lines = [header, "", f"Machine: {machine()}", "", table(rows), ""]
    missed = misses(rows)
    if missed:
        lines += ["Targets missed:", *missed, ""]
    if notes:
        lines += ["Notes:", *(f"- {n}" for n in notes), ""]
    if error:
        lines += [f"RUN FAILED: {error} (logs in {tmp})", ""]
    text = "\n".join(lines)
    print("\n" + text)
    if rows:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\nAppended by `bench/run.py`; newest last.\n\n")
        with RESULTS.open("a") as f:
            f.write(text + "\n")
        print(f"appended to {RESULTS}")
    if args.keep or error:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if error:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
