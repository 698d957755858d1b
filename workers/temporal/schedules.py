"""Every Temporal Schedule the engine keeps, in one place: one reconciliation Schedule per polled source
(`reconcile-<source>`), the push-channel upkeep (`renew-push-channels`) and the owners' daily digest
(`daily-digest`), plus the triggers that run them now.

Creating is idempotent, and an update keeps the schedule's state, so a Schedule an operator paused stays paused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.case import DigestRequest
from domain.reconcile import ReconcileInput, RenewPushInput
from workflows.digest import DailyDigestWorkflow
from workflows.reconcile import ReconcileSourceWorkflow, RenewPushChannelsWorkflow

log = structlog.get_logger(__name__)


SCHEDULE_PREFIX = "reconcile-"


PUSH_SCHEDULE_ID = "renew-push-channels"


DIGEST_SCHEDULE_ID = "daily-digest"


def schedule_id(source: str) -> str:
    return f"{SCHEDULE_PREFIX}{source}"


def _schedule(source: str, task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileSourceWorkflow.run,
            ReconcileInput(source=source, cursor=None, deliver=True),
            id=schedule_id(source),  # Temporal appends the scheduled time to each run's id
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # a slow poll (provider rate limits, a long full resync) must not pile up runs on the same cursor
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client, sources: Iterable[str] | Mapping[str, object], task_queue: str,
                           every: timedelta) -> list[str]:
    """Create or update one Schedule per source (id `reconcile-<source>`); returns the ids. Idempotent.

    An update replaces action, spec and policy but keeps the schedule's state, so a schedule an operator paused
    stays paused. Schedules of sources that are no longer configured are left alone (see `remove_schedules`).
    """
    ids: list[str] = []
    for source in sources:
        sid = schedule_id(source)
        wanted = _schedule(source, task_queue, every)
        try:
            await client.create_schedule(sid, wanted)
        except ScheduleAlreadyRunningError:

            def keep_state(current: ScheduleUpdateInput, wanted: Schedule = wanted) -> ScheduleUpdate:
                wanted.state = current.description.schedule.state
                return ScheduleUpdate(schedule=wanted)

            await client.get_schedule_handle(sid).update(keep_state)
        ids.append(sid)
    return ids


async def remove_schedules(client: Client, sources: Iterable[str]) -> None:
    """Delete the reconcile schedules of sources that were disconnected. Missing ones are ignored."""

    for source in sources:
        try:
            await client.get_schedule_handle(schedule_id(source)).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise


async def trigger_reconcile(client: Client, source: str) -> None:
    """Run a source's reconciliation now (e.g. on a Google / Graph "something changed" ping). A run already in
    progress wins: the trigger is skipped rather than queued."""
    await client.get_schedule_handle(schedule_id(source)).trigger(overlap=ScheduleOverlapPolicy.SKIP)


def _push_schedule(providers: list[str], task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RenewPushChannelsWorkflow.run, RenewPushInput(providers=providers),  # type: ignore[arg-type]
            id=PUSH_SCHEDULE_ID, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_push_schedule(client: Client, providers: Iterable[str], task_queue: str, every: timedelta,
                               run_now: bool = True) -> str | None:
    """Create or update the `renew-push-channels` Schedule for `providers` ("google", "outlook"); None (and nothing
    touched) when there are none. Like `ensure_schedules`, an update keeps a pause. `run_now` triggers a first run,
    so channels exist right after a deploy instead of one period later."""
    wanted_providers = [p for p in dict.fromkeys(providers) if p in ("google", "outlook")]
    if not wanted_providers:
        return None
    wanted = _push_schedule(wanted_providers, task_queue, every)
    try:
        await client.create_schedule(PUSH_SCHEDULE_ID, wanted)
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = current.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(PUSH_SCHEDULE_ID).update(keep_state)
    if run_now:
        await trigger_push_renewal(client)
    return PUSH_SCHEDULE_ID


async def trigger_push_renewal(client: Client) -> None:
    """Run the channel / subscription upkeep now (a Graph lifecycle notification asked for it)."""
    await client.get_schedule_handle(PUSH_SCHEDULE_ID).trigger(overlap=ScheduleOverlapPolicy.SKIP)


async def trigger_sync(client: Client, source: str) -> bool:
    """Run `source`'s reconciliation now (its Temporal Schedule). False when the source is not polled (no API
    credential, so no schedule): the ping can only be acknowledged."""

    from workers.temporal.schedules import trigger_reconcile

    try:
        await trigger_reconcile(client, source)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        log.warning("sync_not_scheduled", source=source)
        return False
    return True


def _digest_schedule(task_queue: str, hour: int, minute: int, timezone: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DailyDigestWorkflow.run, DigestRequest(timezone=timezone), id=DIGEST_SCHEDULE_ID, task_queue=task_queue),
        # the calendar is read in the digest's zone, so the sending time follows its daylight-saving changes
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])],
                          time_zone_name=timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_digest_schedule(client: Client, task_queue: str, hour: int, minute: int, timezone: str) -> str:
    """Create or update the `daily-digest` Schedule: every day at hour:minute in `timezone`, the digest of the day
    before. Like the others, an update keeps a pause."""
    wanted = _digest_schedule(task_queue, hour, minute, timezone)
    try:
        await client.create_schedule(DIGEST_SCHEDULE_ID, wanted)
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = current.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(DIGEST_SCHEDULE_ID).update(keep_state)
    return DIGEST_SCHEDULE_ID


async def trigger_digest(client: Client) -> None:
    """Send the daily digest now (for the day before now); a run under way wins."""
    await client.get_schedule_handle(DIGEST_SCHEDULE_ID).trigger(overlap=ScheduleOverlapPolicy.SKIP)
