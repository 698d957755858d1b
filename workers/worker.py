"""The Temporal worker process: the case workflow and every activity, with connectors injected."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.attendance import AttendanceActivities
from activities.crm import CrmActivities
from activities.ledger import LedgerActivities
from activities.messaging import ConsentActivities, MessagingActivities
from activities.review import ReviewActivities
from activities.scheduling import SchedulingActivities
from domain.backfill import FreedSlot
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.backfill import BACKFILL_WORKFLOWS, backfill_activities, offer_freed_slot
from workers.settings import Settings
from workers.temporal.client import connect
from workflows.case import RecoveryCaseWorkflow
from workflows.consent import ConfirmOptOutWorkflow
from workflows.reconcile import ReconcileSourceWorkflow, RenewPushChannelsWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS: list[type] = [RecoveryCaseWorkflow, ConfirmOptOutWorkflow, ReconcileSourceWorkflow,
                         RenewPushChannelsWorkflow, *BACKFILL_WORKFLOWS]


def _backfill_with(client: Client | None, deps: Dependencies) -> Callable[[FreedSlot], Awaitable[object]] | None:
    if client is None:
        return None
    return lambda freed: offer_freed_slot(client, deps, freed)


def build_activities(deps: Dependencies, client: Client | None) -> list[Any]:
    s = deps.settings
    messaging = MessagingActivities(deps.channels, deps.outbox, deps.consent, deps.ledger,
                                    reply_model=deps.reply_model, history=deps.history)
    consent = ConsentActivities(deps.consent, deps.channels, deps.outbox, deps.ledger, client, history=deps.history)
    scheduling = SchedulingActivities(deps.calendar, deps.ledger, s.auth.link_secret.get_secret_value(),
                                      s.api.public_base_url, on_freed=_backfill_with(client, deps))
    return [
        AttendanceActivities(deps.calendar, deps.history).gather_evidence,
        messaging.send_message,
        messaging.understand_reply,
        consent.record_consent,
        consent.send_consent_confirmation,
        scheduling.offer_slots,
        scheduling.book_slot,
        scheduling.release_holds,
        scheduling.cancel_booking,
        CrmActivities(deps.crm, deps.ledger, history=deps.history).update_crm,
        ReviewActivities(deps.reviews, deps.notifiers, ledger=deps.ledger, history=deps.history).request_review,
        LedgerActivities(deps.ledger, deps.history).record_ledger,
    ]


def build_worker(client: Client, deps: Dependencies, task_queue: str | None = None,
                 max_cached_workflows: int | None = None) -> Worker:
    from workers.intake.cases import CaseService
    from workers.providers.sources import (
        ReconcileSettings,
        push_activities,
        reconcile_activities,
        reconcile_sources_from_env,
    )

    s = deps.settings
    rs = ReconcileSettings()
    activities = build_activities(deps, client) + backfill_activities(deps) + reconcile_activities(
        reconcile_sources_from_env(rs), deps.db, CaseService(client, deps),
        max_age=timedelta(days=rs.reconcile_max_age_days), tasks=deps.crm, salt=s.auth.id_salt) + [
        push_activities(rs, deps.db, s.api.public_base_url).renew_push_channels]
    return Worker(
        client,
        task_queue=task_queue or s.temporal.task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_cached_workflows=s.temporal.max_cached_workflows if max_cached_workflows is None else max_cached_workflows,
    )


async def run_worker(settings: Settings) -> None:
    deps = build_dependencies(settings)
    client = await connect(settings, wait_seconds=60)
    from workers.providers.sources import ReconcileSettings, push_activities, reconcile_sources_from_env
    from workers.temporal.schedules import ensure_push_schedule, ensure_schedules

    rs = ReconcileSettings()
    schedules = await ensure_schedules(client, reconcile_sources_from_env(rs), settings.temporal.task_queue, rs.every)
    worker = build_worker(client, deps)
    push = await ensure_push_schedule(client, push_activities(rs, deps.db, settings.api.public_base_url).providers,
                                      settings.temporal.task_queue, rs.push_every)
    log.info("reconcile_schedules", schedules=schedules, push_schedule=push)
    log.info("worker_started", task_queue=settings.temporal.task_queue, temporal=settings.temporal.target)
    await worker.run()


def main() -> None:
    from workers.logging import configure_logging
    from workers.settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
