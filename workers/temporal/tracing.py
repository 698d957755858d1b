"""OpenTelemetry spans for workflows and activities (NOSHOW_TRACING=true), through the Temporal SDK's
TracingInterceptor. Spans carry workflow and activity types and ids (opaque case ids), never payloads. The exporter
is configured by the standard OTEL_EXPORTER_OTLP_* variables when the OTLP exporter is installed."""

from __future__ import annotations

from typing import Any

from workers.settings import Settings


def tracing_interceptors(settings: Settings) -> list[Any]:
    """The client interceptors (the worker inherits them from its client); empty when tracing is off."""
    if not settings.observability.tracing:
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as exc:  # the extra is not installed: a clear line, not a traceback deep in start-up
        raise SystemExit("error: NOSHOW_TRACING=true needs OpenTelemetry: pip install "
                         "'noshow-recovery[tracing]'") from exc
    _install_provider()
    return [TracingInterceptor()]


def _install_provider() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": "noshow-recovery"}))
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        pass  # no exporter installed: spans are still made (and propagated to other services' traces)
    else:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
