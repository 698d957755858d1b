"""One reconciliation pass for one connected source; a Temporal Schedule per source runs it.

Deterministic: the only side effects are activities. It polls ("reconcile_source"), optionally hands the
events to their cases ("deliver_appointment_events", the same path webhooks take), then commits what it saw to
the index ("commit_reconcile") and returns the new cursor. A Schedule's action input is fixed, so the worker's
activities keep the cursor in the database (`commit_reconcile` stores it) for the next pass. Changes that need a
human (a HubSpot meeting without a reachable contact) travel with the events to the delivery activity.

`RenewPushChannelsWorkflow` is the other Schedule: it keeps Google push channels and Graph subscriptions alive
("renew_push_channels", one activity per provider; one failing does not stop the other, the run fails after).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.common as common  # not `from workflows import`: that would re-import it per sandbox
    from activities.case_events import CaseEventActivities
    from activities.reconcile import PushActivities, ReconcileActivities
    from domain.reconcile import (
        DeliverEvents,
        PushInput,
        ReconcileInput,
        ReconcileResult,
        RenewPushInput,
        RenewPushResult,
    )

POLL_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5), maximum_attempts=8,
                    non_retryable_error_types=["PermanentProviderError"])


@workflow.defn(name="ReconcileSourceWorkflow")
class ReconcileSourceWorkflow:
    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileResult:
        result = await common.run_activity(ReconcileActivities.reconcile_source, inp, start_to_close=POLL_TIMEOUT,
                                           retry=RETRY)
        if inp.deliver and (result.events or result.needs_review):
            await common.run_activity(
                CaseEventActivities.deliver_appointment_events,
                DeliverEvents(source=inp.source, events=result.events, unresolved=result.unresolved,
                              needs_review=result.needs_review),
                start_to_close=POLL_TIMEOUT, retry=RETRY,
            )
        await common.run_activity(ReconcileActivities.commit_reconcile, result, start_to_close=POLL_TIMEOUT,
                                  retry=RETRY)
        return result.model_copy(update={"updates": [], "links": []})


@workflow.defn(name="RenewPushChannelsWorkflow")
class RenewPushChannelsWorkflow:
    @workflow.run
    async def run(self, inp: RenewPushInput) -> RenewPushResult:
        result = RenewPushResult()
        for provider in inp.providers:
            try:
                report = await common.run_activity(PushActivities.renew_push_channels, PushInput(provider=provider),
                                                   start_to_close=POLL_TIMEOUT, retry=RETRY)
            except ActivityError:
                result.failed.append(provider)
                continue
            result.reports.append(report)
        if result.failed:
            # after trying every provider: a failed run is what operators see on the Schedule
            raise ApplicationError("push renewal failed for " + ", ".join(result.failed), non_retryable=True)
        return result
