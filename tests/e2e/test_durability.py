"""Kill the worker (SIGKILL) and the dev server mid-sequence, start them again: no case is lost, none is
duplicated, and no customer gets a message twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.models import EventType
from tests.e2e.conftest import free_port, stack_env, stop
from tests.helpers import appointment, default_program, event, fast_policy, local_settings
from workers.dependencies import build_dependencies
from workers.dev.stack import port_open, temporal_binary
from workers.intake.cases import CaseService
from workflows import search_attributes as sa

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(400)]
CASES = 12


def start_server(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless",
         "--db-filename", str(db), "--log-level", "error", *sa.dev_server_flags()],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "workers.worker"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


async def wait_port(port: int, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.2)):
        if port_open("127.0.0.1", port):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"port {port} never opened")


async def wait_started(log: Path, times: int, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.1)):
        if log.exists() and log.read_text(errors="replace").count("worker_started") >= times:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker did not start (#{times}); see {log}")


def sent_count(deps: object) -> int:
    return len(deps.outbox.messages())  # type: ignore[attr-defined]


async def test_kill_worker_and_server_mid_sequence(tmp_path: Path) -> None:
    policy = fast_policy()
    for seq in default_program(policy).sequences.values():
        seq.reply_wait_hours = 3 / 3600
        for step in seq.steps:
            step.delay_minutes = 0
    default_program(policy).review.high_value_threshold = None
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json")))
    port = free_port()
    env = stack_env(tmp_path / "data", TEMPORAL_ADDRESS=f"127.0.0.1:{port}", NOSHOW_POLICY_FILE=str(policy_path),
                    NOSHOW_TASK_QUEUE="durability")
    server_log, worker_log = tmp_path / "server.log", tmp_path / "worker.log"
    server = start_server(tmp_path / "temporal.db", port, server_log)
    worker: subprocess.Popen[bytes] | None = None
    try:
        await wait_port(port)
        worker = start_worker(env, worker_log)
        settings = local_settings(tmp_path / "data", temporal_address=f"127.0.0.1:{port}",
                                  policy_file=policy_path, task_queue="durability")
        deps = build_dependencies(settings)
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        cases = CaseService(client, deps)
        ids = []
        for i in range(CASES):
            appt = appointment(f"durable-{i}", value=100)
            ids.append((await cases.submit_event(event(appt, EventType.no_show))).case_id)

        kills = 0
        for round_ in range(4):
            # kill once the worker is really working: after it started and sent something more
            await wait_started(worker_log, round_ + 1)
            before = sent_count(deps)
            for _ in range(100):
                if sent_count(deps) > before:
                    break
                await asyncio.sleep(0.05)
            assert worker is not None
            worker.send_signal(signal.SIGKILL)  # mid-send, mid-timer: wherever it is
            worker.wait(10)
            kills += 1
            if round_ % 2 == 1:
                server.send_signal(signal.SIGKILL)
                server.wait(10)
                server = start_server(tmp_path / "temporal.db", port, server_log)
                await wait_port(port)
                client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
            worker = start_worker(env, worker_log)

        async def all_done() -> bool:
            for case_id in ids:
                desc = await client.get_workflow_handle(case_id).describe()
                if desc.status != WorkflowExecutionStatus.COMPLETED:
                    return False
            return True

        for _ in range(600):
            try:
                if await all_done():
                    break
            except Exception:
                pass  # the server may still be settling after its restart
            await asyncio.sleep(0.3)
        assert await all_done(), "some cases never completed after the restarts"
        assert kills == 4

        for case_id in ids:
            runs = [wf async for wf in client.list_workflows(f"WorkflowId = '{case_id}'")]
            assert len(runs) == 1
            sent = [str(m["template_id"]).split("@")[0] for m in deps.outbox.messages(case_id)]
            assert sorted(sent) == sorted(["missed_first", "missed_followup", "missed_last"]), sent
            closed = [e for e in deps.ledger.events(case_id) if e.type == "case_closed"]
            assert len(closed) == 1
    finally:
        if worker is not None:
            stop(worker, signal.SIGTERM)
        stop(server, signal.SIGTERM)
