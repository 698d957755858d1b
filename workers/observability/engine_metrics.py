"""The worker's business metrics: open cases by stage (Temporal visibility), and messages by channel and outcome,
opt-outs and review SLA lapses (the append-only ledger), refreshed in the background and served at /metrics.

The figures are totals of the whole deployment, not of one process: every worker replica reports the same
values, so dashboards and alerts take `max` over replicas, never `sum`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from temporalio.client import Client

from domain.models import TERMINAL_STAGES, Stage
from reporting.ledger import Ledger
from reporting.schema import ledger_events
from workflows import search_attributes as sa

log = structlog.get_logger(__name__)

OPEN_STAGES = [s for s in Stage if s not in TERMINAL_STAGES]
MESSAGE_TYPES = {"message_sent": "sent", "message_delivered": "delivered", "message_failed": "failed"}
REFRESH_SECONDS = 15.0


@dataclass
class Snapshot:
    open_cases: dict[str, int] = field(default_factory=dict)
    messages: dict[tuple[str, str], int] = field(default_factory=dict)
    opt_outs: int = 0
    review_lapses: int = 0
    refreshed_at: float = 0.0
    refresh_errors: int = 0


def ledger_counts(ledger: Ledger) -> tuple[dict[tuple[str, str], int], int, int]:
    """Messages by (channel, outcome), opt-outs, and reviews decided outside their SLA, from the ledger."""
    e = ledger_events.c
    with ledger.engine.connect() as conn:
        messages = {(str(channel or "none"), MESSAGE_TYPES[str(kind)]): int(n) for kind, channel, n in conn.execute(
            select(e.type, e.channel, func.count()).where(e.type.in_(MESSAGE_TYPES)).group_by(e.type, e.channel))}
        opt_outs = int(conn.execute(select(func.count()).where(e.type == "opt_out")).scalar_one())
        lapses = int(conn.execute(select(func.count()).where(
            e.type == "review_decided", e.data["within_sla"].as_boolean().is_(False))).scalar_one())
    return messages, opt_outs, lapses


async def open_cases_by_stage(client: Client) -> dict[str, int]:
    out = {}
    for stage in OPEN_STAGES:
        query = (f"WorkflowType = 'RecoveryCase' AND ExecutionStatus = 'Running' "
                 f"AND {sa.STAGE.name} = '{stage.value}'")
        out[stage.value] = (await client.count_workflows(query)).count
    return out


class EngineMetrics(Collector):
    def __init__(self) -> None:
        self.snapshot = Snapshot()

    async def refresh(self, client: Client, ledger: Ledger) -> None:
        try:
            stages = await open_cases_by_stage(client)
            messages, opt_outs, lapses = await asyncio.to_thread(ledger_counts, ledger)
        except Exception as exc:  # a scrape shows stale figures and a rising error count, the worker goes on
            self.snapshot.refresh_errors += 1
            log.warning("metrics_refresh_failed", error=type(exc).__name__)
            return
        self.snapshot = Snapshot(stages, messages, opt_outs, lapses, time.time(), self.snapshot.refresh_errors)

    async def refresh_forever(self, client: Client, ledger: Ledger, every: float = REFRESH_SECONDS) -> None:
        while True:
            await self.refresh(client, ledger)
            await asyncio.sleep(every)

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        stages = GaugeMetricFamily("noshow_open_cases", "Running recovery cases by stage", labels=["stage"])
        for stage in OPEN_STAGES:
            stages.add_metric([stage.value], snap.open_cases.get(stage.value, 0))
        yield stages
        messages = CounterMetricFamily("noshow_messages", "Messages by channel and outcome (sent, delivered, "
                                                          "failed)", labels=["channel", "outcome"])
        for (channel, outcome), n in sorted(snap.messages.items()):
            messages.add_metric([channel, outcome], n)
        yield messages
        yield CounterMetricFamily("noshow_opt_outs", "Opt-outs recorded", value=snap.opt_outs)
        yield CounterMetricFamily("noshow_review_sla_lapses", "Reviews decided or lapsed after their SLA",
                                  value=snap.review_lapses)
        yield GaugeMetricFamily("noshow_metrics_refreshed_timestamp_seconds",
                                "When the business metrics were last read (Unix time)", value=snap.refreshed_at)
        yield CounterMetricFamily("noshow_metrics_refresh_errors", "Failed reads of the business metrics",
                                  value=snap.refresh_errors)


def serve(metrics: EngineMetrics, host: str, port: int) -> None:
    """Serve /metrics on host:port from a daemon thread (prometheus_client's own server)."""
    registry = CollectorRegistry()
    registry.register(metrics)
    start_http_server(port, addr=host, registry=registry)
