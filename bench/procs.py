"""Processes the benchmark starts: one Temporal dev server, worker and API subprocesses.

Everything binds to 127.0.0.1, is tracked by its pid and is stopped by that pid (SIGTERM, then SIGKILL): the
same child handling, port wait and binary lookup as `noshow up` (workers/dev/stack.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from workers.dev.stack import Child, temporal_binary, wait_for_port
from workflows import search_attributes as sa

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Proc(Child):
    """A `noshow up` child (started in its own session, stopped by pid) with the bench's log tail."""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Procs:
    """Every process this run started, stopped newest first."""

    tmp: Path
    started: list[Proc] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, argv, env, self.tmp / f"{name}.log")
        proc.start()
        self.started.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.started)):
            proc.stop()
        self.started.clear()


def base_env() -> dict[str, str]:
    # a clean environment: no NOSHOW_/TEMPORAL_ settings or .env file from the caller's shell leak in
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOSHOW_", "TEMPORAL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)  # `-m` from any cwd
    return env


def start_dev_server(procs: Procs) -> tuple[Proc, int]:
    port = free_port()
    argv = [
        temporal_binary(), "server", "start-dev", "--headless",
        "--ip", "127.0.0.1", "--port", str(port),
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--db-filename", str(procs.tmp / "bench.db"),
        "--sqlite-pragma", "journal_mode=wal",
        "--log-level", "warn",
        *sa.dev_server_flags(),
    ]
    server = procs.spawn("temporal", argv, base_env())
    wait_for_port("the Temporal dev server", HOST, port, server, 60)
    return server, port


def app_env(address: str, data_dir: Path, policy_file: Path, task_queue: str, **extra: str) -> dict[str, str]:
    env = base_env()
    env.update({
        "TEMPORAL_ADDRESS": address,
        "NOSHOW_DATA_DIR": str(data_dir),
        "NOSHOW_POLICY_FILE": str(policy_file),
        "NOSHOW_TASK_QUEUE": task_queue,
        "NOSHOW_SETTINGS_FILE": str(data_dir / "no-such-settings.env"),
        "NOSHOW_LOG_FORMAT": "json",
        **extra,
    })
    return env


def start_worker(procs: Procs, name: str, env: dict[str, str]) -> Proc:
    return procs.spawn(name, [sys.executable, "-m", "workers.worker"], env)


def start_bare_worker(procs: Procs, address: str, task_queue: str) -> Proc:
    env = base_env()
    env.update({"TEMPORAL_ADDRESS": address, "BENCH_TASK_QUEUE": task_queue})
    return procs.spawn("bare-worker", [sys.executable, "-m", "bench.bare_worker"], env)


def start_api(procs: Procs, name: str, env: dict[str, str]) -> tuple[Proc, str]:
    port = free_port()
    env = {**env, "NOSHOW_API_HOST": "127.0.0.1", "NOSHOW_API_PORT": str(port),
           "NOSHOW_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    api = procs.spawn(name, [sys.executable, "-m", "workers.api"], env)
    wait_for_port("the API", HOST, port, api, 60)
    return api, f"http://127.0.0.1:{port}"


async def wait_for_poller(client: Client, task_queue: str, proc: Proc, timeout: float = 60) -> None:
    """Until a worker polls the queue's workflow tasks (so timing starts with the worker ready)."""
    deadline = time.monotonic() + timeout
    request = DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
                                       task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    while True:
        if not proc.alive():
            raise SystemExit(f"{proc.name} exited during start-up:\n{proc.log_tail()}")
        response = await client.workflow_service.describe_task_queue(request)
        if response.pollers:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{proc.name} did not poll {task_queue} within {timeout:.0f} s:\n{proc.log_tail()}")
        await asyncio.sleep(0.2)


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out
