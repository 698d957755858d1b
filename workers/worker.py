"""The Temporal worker process: every workflow and activity, with connectors injected, and the Schedules that
drive reconciliation, push-channel upkeep and the owners' daily digest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.alerts import AlertActivities
from activities.attendance import AttendanceActivities
from activities.backfill import BackfillActivities
from activities.crm import CrmActivities
from activities.ledger import LedgerActivities
from activities.messaging import ConsentActivities, MessagingActivities
from activities.review import ReviewActivities
from activities.scheduling import SchedulingActivities
from activities.source_tasks import SourceTaskActivities
from connectors.settings import secret
from domain.backfill import FreedSlot
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.backfill import offer_freed_slot
from workers.intake.cases import CaseService
from workers.logging import configure_logging
from workers.observability.engine_metrics import EngineMetrics, serve
from workers.production import refuse_unsafe_start
from workers.providers.mailchimp import mailchimp_audience
from workers.providers.servicetitan import reschedule_task_openers
from workers.providers.sources import push_activities, reconcile_activities, reconcile_sources
from workers.settings import Settings
from workers.settings_errors import settings_or_exit
from workers.temporal.client import connect, sdk_metrics_runtime
from workers.temporal.fanout import stop_open_cases
from workers.temporal.schedules import ensure_digest_schedule, ensure_push_schedule, ensure_schedules
from workflows.backfill import SlotBackfill
from workflows.case import RecoveryCaseWorkflow
from workflows.consent import ConfirmOptOutWorkflow
from workflows.digest import DailyDigestWorkflow
from workflows.reconcile import ReconcileSourceWorkflow, RenewPushChannelsWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS: list[type] = [RecoveryCaseWorkflow, ConfirmOptOutWorkflow, ReconcileSourceWorkflow,
                         RenewPushChannelsWorkflow, SlotBackfill, DailyDigestWorkflow]


def _backfill_with(client: Client | None, deps: Dependencies) -> Callable[[FreedSlot], Awaitable[object]] | None:
    if client is None:
        return None
    return lambda freed: offer_freed_slot(client, deps, freed)


def case_activities(deps: Dependencies, client: Client | None) -> list[Any]:
    """What a recovery case and a backfill call. `client` lets activities start workflows (opt-out
    confirmations, backfills of freed slots); None in tests that need neither."""
    s = deps.settings
    crm = CrmActivities(deps.crm, deps.ledger, verdicts=deps.verdicts, audience=mailchimp_audience(s, deps.consent))
    messaging = MessagingActivities(deps.channels, deps.outbox, deps.consent, deps.ledger,
                                    reply_model=deps.reply_model, verdicts=deps.verdicts, intents=deps.intents,
                                    salt=s.auth.id_salt, message_notes=crm.note_message)
    consent = ConsentActivities(deps.consent, deps.channels, deps.outbox, deps.ledger, client,
                                verdicts=deps.verdicts,
                                stop_cases=None if client is None else partial(stop_open_cases, client))
    scheduling = SchedulingActivities(deps.calendar, deps.ledger, secret(s.auth.link_secret) or "",
                                      s.api.public_base_url, on_freed=_backfill_with(client, deps))
    backfill = BackfillActivities(deps.calendar, deps.waitlist, deps.crm, s.auth.id_salt, ledger=deps.ledger)
    alerts = AlertActivities(deps.alerts, deps.notifiers, ledger=deps.ledger, verdicts=deps.verdicts)
    return [
        alerts.alert_owner,
        alerts.record_audit,
        alerts.send_digest,
        AttendanceActivities(deps.calendar, deps.verdicts).gather_evidence,
        messaging.send_message,
        messaging.understand_reply,
        consent.record_consent,
        consent.send_consent_confirmation,
        scheduling.offer_slots,
        scheduling.book_slot,
        scheduling.release_holds,
        scheduling.cancel_booking,
        crm.update_crm,
        SourceTaskActivities(reschedule_task_openers(s, deps.db)).open_source_reschedule_task,
        ReviewActivities(deps.reviews, deps.notifiers, ledger=deps.ledger, verdicts=deps.verdicts).request_review,
        LedgerActivities(deps.ledger, deps.verdicts).record_ledger,
        backfill.hold_backfill_slot,
        backfill.read_waitlist,
        backfill.book_backfill,
        backfill.remove_from_waitlist,
    ]


def build_worker(client: Client, deps: Dependencies, task_queue: str | None = None,
                 max_cached_workflows: int | None = None) -> Worker:
    s = deps.settings
    activities = case_activities(deps, client) + reconcile_activities(
        reconcile_sources(s), deps.db, CaseService(client, deps), s, tasks=deps.crm) + [
        push_activities(s, deps.db).renew_push_channels]
    return Worker(
        client,
        task_queue=task_queue or s.temporal.task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_cached_workflows=s.temporal.max_cached_workflows if max_cached_workflows is None
        else max_cached_workflows,
    )


async def run_worker(settings: Settings) -> None:
    deps = build_dependencies(settings)
    client = await connect(settings, wait_seconds=settings.temporal.connect_wait_seconds,
                           runtime=sdk_metrics_runtime(settings))
    refresher = start_engine_metrics(settings, client, deps)
    queue = settings.temporal.task_queue
    schedules = await ensure_schedules(client, reconcile_sources(settings), queue, settings.reconcile.every)
    worker = build_worker(client, deps)
    push = await ensure_push_schedule(client, push_activities(settings, deps.db).providers, queue,
                                      settings.push.every)
    digest = await ensure_digest_schedule(client, queue, settings.digest.hour, settings.digest.minute,
                                          settings.digest.timezone)
    log.info("reconcile_schedules", schedules=schedules, push_schedule=push, digest_schedule=digest)
    log.info("worker_started", task_queue=queue, temporal=settings.temporal.target)
    try:
        await worker.run()
    finally:
        if refresher is not None:
            refresher.cancel()


def start_engine_metrics(settings: Settings, client: Client, deps: Dependencies) -> asyncio.Task[None] | None:
    o = settings.observability
    if o.metrics_port is None:
        return None
    metrics = EngineMetrics()
    serve(metrics, o.metrics_host, o.metrics_port)
    log.info("metrics_served", port=o.metrics_port, temporal_sdk_port=o.temporal_metrics_port)
    return asyncio.create_task(metrics.refresh_forever(client, deps.ledger, o.metrics_refresh_seconds))


def main() -> None:
    settings = settings_or_exit("worker")
    refuse_unsafe_start(settings, "worker")
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
