"""What /metrics exports: the API's requests by route template and status (never a path value), the worker's
business figures read from the ledger, and the dashboard and alert rules naming only metrics that exist."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from temporalio.testing import WorkflowEnvironment

from domain.models import Channel, LedgerEvent
from reporting.ledger import Ledger
from tests.deploy.sdk_metrics import scraped_sdk_metric_names
from tests.helpers import local_settings
from workers.api.app import create_app
from workers.observability.engine_metrics import EngineMetrics, Snapshot, ledger_counts
from workers.observability.http_metrics import HttpMetrics

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+12125550100"
PROMETHEUS_BUILTINS = {"up"}
METRIC = re.compile(r"\b((?:noshow|temporal)_[a-z0-9_]+|up(?=\{))")


def names_in(registry: CollectorRegistry) -> set[str]:
    return {sample.name for family in registry.collect() for sample in family.samples}


def test_api_requests_are_counted_by_route_template_and_status_without_path_values(tmp_path: Path) -> None:
    app = create_app(local_settings(tmp_path / "data"))
    http = TestClient(app)  # no lifespan: these routes need neither Temporal nor the drainer
    assert http.get("/health").status_code == 200
    assert http.get(f"/cases/c-{PHONE}").status_code == 401  # refused before routing: still its route's template
    assert http.get("/nothing/pat@example.com").status_code == 404
    text = http.get("/metrics").text
    assert 'noshow_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'noshow_http_requests_total{method="GET",route="/cases/{case_id}",status="401"} 1.0' in text
    assert 'noshow_http_requests_total{method="GET",route="(unmatched)",status="404"} 1.0' in text
    assert 'noshow_http_request_duration_seconds_count{method="GET",route="/health"} 1.0' in text
    assert PHONE not in text and "pat@example.com" not in text


def event(n: int, type_: str, channel: Channel | None = None, **data: object) -> LedgerEvent:
    return LedgerEvent(event_id=f"e-{n}", case_id=f"case-{n % 3}", type=type_, at=datetime.now(UTC), source="local",
                       appointment_type="consultation", channel=channel, data=data)  # type: ignore[arg-type]


def test_business_figures_come_from_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    ledger.append_many([
        event(1, "message_sent", Channel.sms), event(2, "message_sent", Channel.sms),
        event(3, "message_failed", Channel.email), event(4, "message_delivered", Channel.sms),
        event(5, "opt_out", Channel.sms), event(6, "review_decided", decision="lapsed", within_sla=False),
        event(7, "review_decided", decision="approve", within_sla=True),
        event(8, "review_decided", decision="approve", within_sla=False), event(9, "case_opened"),
    ])
    messages, opt_outs, lapses = ledger_counts(ledger)
    assert messages == {("sms", "sent"): 2, ("email", "failed"): 1, ("sms", "delivered"): 1}
    assert (opt_outs, lapses) == (1, 2)

    metrics = EngineMetrics()
    metrics.snapshot = Snapshot({"awaiting_review": 4}, messages, opt_outs, lapses, 1.0)
    registry = CollectorRegistry()
    registry.register(metrics)
    text = generate_latest(registry).decode()
    assert 'noshow_messages_total{channel="sms",outcome="sent"} 2.0' in text
    assert 'noshow_open_cases{stage="awaiting_review"} 4.0' in text
    assert 'noshow_open_cases{stage="watching"} 0.0' in text  # every open stage, also the empty ones
    assert "noshow_opt_outs_total 1.0" in text and "noshow_review_sla_lapses_total 2.0" in text


def exported_engine_names() -> set[str]:
    registry = CollectorRegistry()
    metrics = EngineMetrics()
    metrics.snapshot = Snapshot({}, {("sms", "sent"): 1}, 1, 1, 1.0)
    registry.register(metrics)
    http = HttpMetrics()
    http.requests.labels("GET", "/health", "200").inc()
    http.latency.labels("GET", "/health").observe(0.01)
    return names_in(registry) | names_in(http.registry)


def queries() -> dict[str, list[str]]:
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    dashboard = json.loads((ROOT / "deploy/grafana/noshow-recovery.json").read_text())
    return {
        "alerts.yml": [r["expr"] for g in alerts["groups"] for r in g["rules"]],
        "noshow-recovery.json": [t["expr"] for p in dashboard["panels"] for t in p["targets"]],
    }


async def test_the_dashboard_and_alerts_name_only_exported_metrics(env: WorkflowEnvironment) -> None:
    sdk = await scraped_sdk_metric_names(env.client.service_client.config.target_host, env.client.namespace)
    assert "temporal_workflow_completed_total" in sdk, "the SDK exporter answered with no workflow metrics"
    exported = exported_engine_names() | sdk | PROMETHEUS_BUILTINS
    for source, exprs in queries().items():
        assert exprs, f"{source} has no queries"
        for expr in exprs:
            used = set(METRIC.findall(expr))
            assert used, f"{source}: {expr!r} names no engine or Temporal metric"
            assert used <= exported, f"{source}: {sorted(used - exported)} are not exported ({expr!r})"
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    for rule in (r for g in alerts["groups"] for r in g["rules"]):
        assert rule["alert"] and rule["labels"]["severity"] in ("page", "ticket") and rule["annotations"]["summary"]
