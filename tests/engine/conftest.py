from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
import yaml
from temporalio.client import Client
from temporalio.worker import Worker

from policies.schema import PolicyFile
from tests.helpers import fast_policy
from workers.cases import CaseService
from workers.dependencies import Dependencies, build_dependencies
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
    return Settings(data_dir=tmp / "data", task_queue=task_queue, policy_file=policy_path, log_format="console")


@pytest_asyncio.fixture
async def stack(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = settings_for(tmp_path, task_queue, fast_policy())
    deps = build_dependencies(settings)
    # max_cached_workflows=0 makes every workflow task replay from history: nondeterminism fails fast
    worker = build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0)
    task = asyncio.create_task(worker.run())
    try:
        yield Stack(client, deps, CaseService(client, deps), worker, settings.policy_file)  # type: ignore[arg-type]
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)
