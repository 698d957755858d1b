"""Sending an opt-out confirmation the provider could not take when the customer opted out.

The opt-out itself is recorded at once and every case of the contact closes; only the courtesy message waits
for the provider. One workflow per consent event (id confirm-consent-<event id>), started by the record_consent
activity; the activity looks in the outbox before it sends, so the customer gets it once.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.common as common  # not `from workflows import`: that would re-import it per sandbox
    from activities.messaging import ConsentActivities
    from domain.case import ConsentConfirmation

# a provider outage can last hours; a confirmation a day late is no longer a confirmation
GIVE_UP_AFTER = timedelta(hours=24)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=1), non_retryable_error_types=["PermanentProviderError"])


@workflow.defn(name="ConfirmOptOut")
class ConfirmOptOutWorkflow:
    @workflow.run
    async def run(self, req: ConsentConfirmation) -> bool:
        """True when the confirmation went out (or was already out), False when the provider never took it."""
        try:
            await common.run_activity(ConsentActivities.send_consent_confirmation, req,
                                      schedule_to_close=GIVE_UP_AFTER, retry=RETRY)
        except ActivityError:
            workflow.logger.warning("opt-out confirmation not sent", extra={"case_id": req.case_id})
            return False
        return True
