"""The owners' daily digest: a Temporal Schedule (`daily-digest`) starts one run a day, which asks
`send_digest` for the day before the run's own time, so a retried or late run still reports the same day."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import workflows.common as common  # not `from workflows import`: that would re-import it per sandbox
    from activities.alerts import AlertActivities
    from domain.case import DigestRequest, DigestResult

DIGEST_TIMEOUT = timedelta(minutes=5)  # a day of ledger rows for every owner
RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5), maximum_attempts=8,
                    non_retryable_error_types=["ValidationError"])


@workflow.defn(name="DailyDigestWorkflow")
class DailyDigestWorkflow:
    @workflow.run
    async def run(self, inp: DigestRequest) -> DigestResult:
        # the Schedule's input is fixed: the day is taken from the run's time, recorded once in its history
        req = inp if inp.until is not None else inp.model_copy(update={"until": workflow.now()})
        return await common.run_activity(AlertActivities.send_digest, req, start_to_close=DIGEST_TIMEOUT,
                                         retry=RETRY)
