"""NOSHOW_TRACING=true: the client the worker and the API connect with carries the SDK's TracingInterceptor, so
starting a workflow, running it and its activities make OpenTelemetry spans; off by default."""

from __future__ import annotations

import uuid
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.deploy.sdk_metrics import MetricsProbe, probe
from tests.helpers import local_settings
from workers.deploy_settings import ObservabilitySettings
from workers.temporal.client import connect
from workers.temporal.tracing import tracing_interceptors


def test_tracing_is_off_unless_enabled(tmp_path: Path) -> None:
    assert tracing_interceptors(local_settings(tmp_path)) == []


async def test_enabled_tracing_makes_spans_for_the_start_the_run_and_the_activity(
        tmp_path: Path, env: WorkflowEnvironment) -> None:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = local_settings(tmp_path, temporal_address=env.client.service_client.config.target_host,
                              observability=ObservabilitySettings(tracing=True))
    assert [type(i) for i in tracing_interceptors(settings)] == [TracingInterceptor]
    client = await connect(settings)
    queue = f"trace-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[MetricsProbe], activities=[probe]):
        await client.execute_workflow(MetricsProbe.run, id=f"trace-{uuid.uuid4().hex}", task_queue=queue)
    names = {span.name for span in exporter.get_finished_spans()}
    assert {"StartWorkflow:MetricsProbe", "RunWorkflow:MetricsProbe", "RunActivity:metrics_probe"} <= names, names
