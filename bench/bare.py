"""The bare baseline for case throughput: one workflow running N no-op activities in sequence.

Kept in its own module because a workflow defined in a `__main__` script fails sandbox validation.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
def noop(step: int) -> int:
    # sync, like the case activities, so both run on the same kind of thread pool
    return step


@workflow.defn(name="BenchBare")
class BareWorkflow:
    @workflow.run
    async def run(self, activities: int) -> int:
        for step in range(activities):
            await workflow.execute_activity("bench_noop", step, result_type=int,
                                            start_to_close_timeout=timedelta(seconds=30))
        return activities
