"""`noshow setup-temporal` prepares a namespace on a real Temporal server: creates it, registers every search
attribute the engine queries, is idempotent, and fails loudly on a conflicting attribute."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.e2e.conftest import free_port
from workers.temporal.setup import SetupError, ensure_namespace, ensure_search_attributes
from workflows import search_attributes as sa


async def custom(client: Client, namespace: str) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return dict(listed.custom_attributes)


async def test_a_new_namespace_gets_every_search_attribute_and_a_rerun_adds_nothing(
        env: WorkflowEnvironment) -> None:
    namespace = f"setup-{uuid.uuid4().hex[:8]}"
    client = env.client
    assert await ensure_namespace(client, namespace, timedelta(days=1)) is True
    assert await ensure_namespace(client, namespace, timedelta(days=1)) is False
    added = await ensure_search_attributes(client, namespace, echo=lambda _: None)
    assert added == sorted(k.name for k in sa.ALL)
    registered = await custom(client, namespace)
    assert {k.name: int(k.indexed_value_type) for k in sa.ALL}.items() <= registered.items()
    assert await ensure_search_attributes(client, namespace, echo=lambda _: None) == []


async def test_an_attribute_of_another_type_is_an_error_not_skipped(env: WorkflowEnvironment) -> None:
    namespace = f"clash-{uuid.uuid4().hex[:8]}"
    client = env.client
    await ensure_namespace(client, namespace, timedelta(days=1))
    for _ in range(60):  # a just-registered namespace takes a moment to accept attributes
        try:
            await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=namespace, search_attributes={sa.STAGE.name: IndexedValueType.INDEXED_VALUE_TYPE_INT}))
            break
        except RPCError:
            await asyncio.sleep(0.5)
    with pytest.raises(SetupError, match="NoShowStage exists as INT, the engine needs KEYWORD"):
        await ensure_search_attributes(client, namespace, echo=lambda _: None)


@pytest.mark.e2e
def test_the_job_fails_loudly_with_one_line_when_temporal_is_unreachable(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOSHOW_", "TEMPORAL_"))}
    done = subprocess.run([str(Path(sys.executable).parent / "noshow"), "setup-temporal", "--wait", "1"],
                          env={**env, "TEMPORAL_ADDRESS": f"127.0.0.1:{port}"}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot reach Temporal at 127.0.0.1:{port}")
    assert "Traceback" not in done.stderr


@pytest.mark.e2e
def test_the_job_exits_0_on_a_real_server_and_says_the_namespace_is_ready(tmp_path: Path,
                                                                          env: WorkflowEnvironment) -> None:
    namespace = f"job-{uuid.uuid4().hex[:8]}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NOSHOW_", "TEMPORAL_"))}
    done = subprocess.run([str(Path(sys.executable).parent / "noshow"), "setup-temporal"], cwd=tmp_path, env={
        **clean, "TEMPORAL_ADDRESS": env.client.service_client.config.target_host, "TEMPORAL_NAMESPACE": namespace},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"namespace {namespace} is ready for the engine"
