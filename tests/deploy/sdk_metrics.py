"""The Temporal SDK's Prometheus metrics as a worker configured like the engine's exports them: a worker with
`sdk_metrics_runtime` runs one workflow and one activity on a real server, and its exporter is scraped."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.e2e.conftest import free_port
from workers.deploy_settings import ObservabilitySettings
from workers.settings import Settings
from workers.temporal.client import sdk_metrics_runtime

NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", re.M)


@activity.defn(name="metrics_probe")
async def probe() -> str:
    return "ok"


@workflow.defn(name="MetricsProbe", sandboxed=False)
class MetricsProbe:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(probe, start_to_close_timeout=timedelta(seconds=10))


async def scraped_sdk_metric_names(target: str, namespace: str) -> set[str]:
    port = free_port()
    settings = Settings(observability=ObservabilitySettings(temporal_metrics_port=port))
    runtime = sdk_metrics_runtime(settings)
    assert runtime is not None
    client = await Client.connect(target, namespace=namespace, runtime=runtime)
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[MetricsProbe], activities=[probe]):
        assert await client.execute_workflow(MetricsProbe.run, id=f"probe-{uuid.uuid4().hex}", task_queue=queue) \
            == "ok"
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return set(NAME.findall(text))
