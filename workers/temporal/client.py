"""Connecting to Temporal with the project's data converter (pydantic, plus encryption when a key is set)."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from connectors.settings import secret
from workers.health_data import payload_key
from workers.settings import Settings
from workers.temporal.codec import EncryptionCodec
from workers.temporal.connection import tls_config
from workers.temporal.tracing import tracing_interceptors


def data_converter(settings: Settings) -> DataConverter:
    # on by default for health sources: workers/health_data.py
    key = payload_key(settings)
    if key is None:
        return pydantic_data_converter
    codec = EncryptionCodec.from_setting(key)
    # failure messages and stack traces go through the codec too, not only payloads
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec,
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def sdk_metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime whose Temporal SDK metrics are served for Prometheus (NOSHOW_TEMPORAL_METRICS_PORT), or None."""
    o = settings.observability
    if o.temporal_metrics_port is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=f"{o.metrics_host}:{o.temporal_metrics_port}", counters_total_suffix=True,
        durations_as_seconds=True)))


async def connect(settings: Settings, wait_seconds: float = 30.0, runtime: Runtime | None = None) -> Client:
    """Connect, retrying while a freshly started server comes up."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal.target,
                namespace=settings.temporal.namespace,
                data_converter=data_converter(settings),
                api_key=secret(settings.temporal.api_key),
                tls=tls_config(settings.temporal),
                interceptors=tracing_interceptors(settings),
                runtime=runtime,
            )
        except RuntimeError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)
