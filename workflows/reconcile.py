"""One reconciliation pass for one connected source; a Temporal Schedule per source runs it.

Deterministic: the only side effects are activities. It polls ("reconcile_source"), optionally hands the
events to the lead's delivery activity ("deliver_appointment_events", the same path webhooks take), then
commits what it saw to the index ("commit_reconcile") and returns the new cursor. A Schedule's action input is
fixed, so the lead stores `result.cursor` after the run (or wires a cursor store) for the next pass.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import DeliverEvents, ReconcileInput, ReconcileResult

POLL_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5), maximum_attempts=8,
                    non_retryable_error_types=["PermanentProviderError"])


@workflow.defn(name="ReconcileSourceWorkflow")
class ReconcileSourceWorkflow:
    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileResult:
        result: ReconcileResult = await workflow.execute_activity(
            "reconcile_source", inp, result_type=ReconcileResult, start_to_close_timeout=POLL_TIMEOUT,
            retry_policy=RETRY,
        )
        if inp.deliver and result.events:
            await workflow.execute_activity(
                "deliver_appointment_events", DeliverEvents(source=inp.source, events=result.events),
                start_to_close_timeout=POLL_TIMEOUT, retry_policy=RETRY,
            )
        await workflow.execute_activity(
            "commit_reconcile", result, start_to_close_timeout=POLL_TIMEOUT, retry_policy=RETRY,
        )
        return result.model_copy(update={"updates": []})
