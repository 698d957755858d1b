"""The deployment's own sections of the settings: which mode it runs in, and what it exposes to monitoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class DeploySettings(EnvSection):
    """NOSHOW_ENV (development | production): in production the worker, the API and every command that starts a
    service refuse development secrets, a loopback NOSHOW_PUBLIC_BASE_URL while providers are configured, and
    plaintext payloads in Temporal's history unless NOSHOW_ALLOW_PLAINTEXT_HISTORY=true waives the key."""

    env: Literal["development", "production"] = Field(default="development", validation_alias="NOSHOW_ENV")
    allow_plaintext_history: bool = Field(default=False, validation_alias="NOSHOW_ALLOW_PLAINTEXT_HISTORY")

    @property
    def production(self) -> bool:
        return self.env == "production"


class ObservabilitySettings(EnvSection):
    """NOSHOW_METRICS_HOST and NOSHOW_METRICS_PORT (the worker's engine metrics at /metrics; unset: not served),
    NOSHOW_TEMPORAL_METRICS_PORT (the Temporal SDK's Prometheus exporter in the worker; unset: off),
    NOSHOW_METRICS_REFRESH_SECONDS (how often the worker reads the business figures),
    NOSHOW_TRACING (OpenTelemetry spans for workflows and activities through the SDK's TracingInterceptor;
    export with the standard OTEL_EXPORTER_OTLP_* variables). The API serves /metrics on its own port."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_")

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    temporal_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_refresh_seconds: float = Field(default=15.0, gt=0, le=3600)
    tracing: bool = False
