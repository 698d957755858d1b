"""Saving real workflow histories from the tests, for the replay suite (tests/engine/test_replay.py).

With NOSHOW_SAVE_HISTORIES=1 (or =<folder>, to keep them in tests/histories/<folder>/ beside the others):
- the `stack` fixture (tests/engine/conftest.py) keeps every RecoveryCase history of its test in
  tests/histories/: closed ones as `<test>-<n>.json`, the ones still waiting (on a reviewer, a reply, the new
  appointment), which open cases in production look like when a new worker version picks them up, as
  `<test>-running-<stage>-<n>.json`. Histories of cases started before LEAN_PATCH stay in tests/histories/v1/.
- `other_workflow_histories` keeps the histories of every other workflow type a test started, in
  tests/histories/<WorkflowType>/<test>-<n>.json (at most PER_TEST of each). It is on for tests/engine; for
  the tests elsewhere that run those workflows, load it as a plugin:

    NOSHOW_SAVE_HISTORIES=1 .venv/bin/python -m pytest -p tests.engine.history_recorder -p no:cacheprovider \\
        tests/engine/test_backfill.py tests/connectors/test_reconcile.py tests/connectors/test_push_channels.py \\
        tests/faults/test_provider_faults.py::test_stop_during_an_outage_is_confirmed_once
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

HISTORIES = Path(__file__).parent.parent / "histories"
CASE = "RecoveryCase"
OTHER_TYPES = ("SlotBackfill", "ConfirmOptOut", "ReconcileSourceWorkflow", "RenewPushChannelsWorkflow",
               "DailyDigestWorkflow")
PER_TEST = 2


def saving() -> bool:
    return bool(os.environ.get("NOSHOW_SAVE_HISTORIES"))


def case_folder() -> Path:
    """Where RecoveryCase histories go: tests/histories/, or the folder NOSHOW_SAVE_HISTORIES names."""
    value = os.environ.get("NOSHOW_SAVE_HISTORIES", "")
    folder = HISTORIES if value in ("", "1") else HISTORIES / value
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def save_histories(client: Client, task_queue: str, name: str) -> None:
    """Every RecoveryCase history of this test's task queue, closed and running (see the module docstring)."""
    closed = running = 0
    folder = case_folder()
    async for wf in client.list_workflows(f"TaskQueue = '{task_queue}' AND WorkflowType = '{CASE}'"):
        handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
        history = await handle.fetch_history()
        if wf.status is not None and wf.status.name == "RUNNING":
            stage = (await handle.query("state_query")).get("stage", "running")
            (folder / f"{name}-running-{stage}-{running}.json").write_text(history.to_json())
            running += 1
        else:
            (folder / f"{name}-{closed}.json").write_text(history.to_json())
            closed += 1


async def save_other_histories(client: Client, since: datetime, name: str, task_queue: str | None = None) -> None:
    """The histories of the other workflow types started since `since` (on `task_queue`, when the test has
    one), closed ones first."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    on_queue = f" AND TaskQueue = '{task_queue}'" if task_queue else ""
    for workflow_type in OTHER_TYPES:
        found = [wf async for wf in client.list_workflows(
            f"WorkflowType = '{workflow_type}' AND StartTime >= '{stamp}'{on_queue}")]
        found.sort(key=lambda wf: (wf.status is not None and wf.status.name == "RUNNING", wf.start_time))
        for n, wf in enumerate(found[:PER_TEST]):
            history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
            folder = HISTORIES / workflow_type
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}-{n}.json").write_text(history.to_json())


@pytest_asyncio.fixture(autouse=True)
async def other_workflow_histories(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    if not saving() or "client" not in request.fixturenames:
        yield
        return
    client: Client = request.getfixturevalue("client")
    task_queue = request.getfixturevalue("task_queue") if "task_queue" in request.fixturenames else None
    since = datetime.now(UTC)
    yield
    await save_other_histories(client, since, request.node.name, task_queue)
