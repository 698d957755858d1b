from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from temporalio.client import Client
from temporalio.worker import Worker

from policies.schema import PolicyFile
from tests.helpers import fast_policy, local_settings
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.settings import Settings
from workers.worker import build_worker


@dataclass
class Stack:
    client: Client
    deps: Dependencies
    cases: CaseService
    worker: Worker
    policy_path: Path

    def write_policy(self, policy: PolicyFile) -> None:
        self.policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))


def settings_for(tmp: Path, task_queue: str, policy: PolicyFile) -> Settings:
    policy_path = tmp / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    return local_settings(tmp / "data", task_queue=task_queue, policy_file=policy_path)


HISTORIES = Path(__file__).parent.parent / "histories"


async def save_histories(client: Client, task_queue: str, name: str) -> None:
    """With NOSHOW_SAVE_HISTORIES=1, keep every case history of this test for the replay suite: closed ones, and
    the ones still waiting (on a reviewer, a reply, the new appointment), which open cases in production look
    like when a new worker version picks them up. Older versions' histories stay in tests/histories/v1/."""
    closed = running = 0
    async for wf in client.list_workflows(f"TaskQueue = '{task_queue}' AND WorkflowType = 'RecoveryCase'"):
        handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
        history = await handle.fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        if wf.status is not None and wf.status.name == "RUNNING":
            stage = (await handle.query("state_query")).get("stage", "running")
            (HISTORIES / f"{name}-running-{stage}-{running}.json").write_text(history.to_json())
            running += 1
        else:
            (HISTORIES / f"{name}-{closed}.json").write_text(history.to_json())
            closed += 1


@pytest_asyncio.fixture
async def stack(client: Client, task_queue: str, tmp_path: Path,
                request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    settings = settings_for(tmp_path, task_queue, fast_policy())
    deps = build_dependencies(settings)
    # max_cached_workflows=0 makes every workflow task replay from history: nondeterminism fails fast
    worker = build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0)
    task = asyncio.create_task(worker.run())
    try:
        yield Stack(client, deps, CaseService(client, deps), worker, settings.policy.file)  # type: ignore[arg-type]
        if os.environ.get("NOSHOW_SAVE_HISTORIES"):
            await save_histories(client, task_queue, request.node.name)
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)
